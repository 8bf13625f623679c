-- Datasets (prior/dataset.h) from Lua: MIMIC-CXR-JPG, CheXpert and its 5x200 selection, RSNA Pneumonia, SIIM-ACR.
--
-- A dataset is a one-pointer box (like a tensor handle) so that #ds works; ds.c is the C prior_dataset*.
-- Sample positions are 1-based; values stored in tensors (class indices, batch sample_indices) stay 0-based.
local ffi = require 'ffi'
local capi = require 'prior.capi'
local T = require 'prior.tensor'
local U = require 'prior.data.util'
local C = capi.C

ffi.cdef [[ typedef struct prior_dataset_handle { prior_dataset *c; } prior_dataset_handle; ]]

local Dataset = {}
local info = setmetatable({}, { __mode = 'k' }) -- box -> {classes=...}: what the C object does not hold
local box_t

local function self_c(ds, fname)
  if not ffi.istype(box_t, ds) then
    error(string.format('%s: argument 1 must be a dataset (call it as ds:%s(...)), got %s', fname, fname,
                        type(ds)), 3)
  end
  if ds.c == nil then error(string.format('%s: the dataset was freed', fname), 3) end
  return ds.c
end

-- A 1-based sample position into a 0-based C index.
local function index_of(ds, i, fname, argn)
  local c = self_c(ds, fname)
  local n = tonumber(C.prior_dataset_size(c))
  if type(i) ~= 'number' or i ~= math.floor(i) then
    error(string.format('%s: argument %d must be an integer sample position, got %s', fname, argn, tostring(i)), 3)
  end
  if i < 1 or i > n then
    error(string.format('%s: sample %d is out of range 1..%d', fname, i, n), 3)
  end
  return c, i - 1
end

local function str(p) if p == nil then return nil end return ffi.string(p) end

function Dataset.size(ds) return tonumber(C.prior_dataset_size(self_c(ds, 'size'))) end
function Dataset.kind(ds) return ffi.string(C.prior_dataset_kind(self_c(ds, 'kind'))) end
function Dataset.image_format(ds)
  return C.prior_dataset_image_format(self_c(ds, 'image_format')) == 1 and 'dicom' or 'jpeg'
end
function Dataset.has_masks(ds) return C.prior_dataset_has_masks(self_c(ds, 'has_masks')) ~= 0 end

function Dataset.label_names(ds)
  local c = self_c(ds, 'label_names')
  local out = {}
  for k = 0, C.prior_dataset_label_count(c) - 1 do out[k + 1] = ffi.string(C.prior_dataset_label_name(c, k)) end
  return out
end

-- The class names of a chexpert5x200 dataset (nil for other datasets).
function Dataset.classes(ds)
  self_c(ds, 'classes')
  return info[ds] and info[ds].classes
end

local DROP_FIELDS = { 'lateral', 'lateral_only', 'other_split', 'missing_report', 'unreadable_report',
                      'no_sections', 'short_report', 'missing_image', 'no_image', 'unlabeled' }

local drops_mt = {
  __tostring = function(d)
    local parts = {}
    for _, k in ipairs(DROP_FIELDS) do
      if d[k] ~= 0 then parts[#parts + 1] = string.format('%s %d', k, d[k]) end
    end
    return #parts > 0 and table.concat(parts, ', ') or 'nothing dropped'
  end,
}

function Dataset.drops(ds)
  local st = ffi.new('prior_dataset_drops')
  C.prior_dataset_get_drops(self_c(ds, 'drops'), st)
  local out = {}
  for _, k in ipairs(DROP_FIELDS) do out[k] = tonumber(st[k]) end
  return setmetatable(out, drops_mt)
end

-- ds:sample(i) -> {index=, id=, image_paths=, sentences=, labels={name=value}, label_values={...},
--                   boxes={{x, y, w, h}...} (fractions of the image), rles={...}, class=, class_name=}
function Dataset.sample(ds, i)
  local c, k = index_of(ds, i, 'sample', 1)
  local s = { index = i, id = str(C.prior_dataset_id(c, k)), image_paths = {}, sentences = {} }
  for j = 0, C.prior_dataset_image_count(c, k) - 1 do s.image_paths[j + 1] = str(C.prior_dataset_image_path(c, k, j)) end
  for j = 0, C.prior_dataset_sentence_count(c, k) - 1 do s.sentences[j + 1] = str(C.prior_dataset_sentence(c, k, j)) end
  local nl = C.prior_dataset_label_count(c)
  if nl > 0 then
    local buf = ffi.new('float[?]', nl)
    capi.status(C.prior_dataset_labels(c, k, buf), 2)
    s.labels, s.label_values = {}, {}
    for j = 0, nl - 1 do
      s.labels[ffi.string(C.prior_dataset_label_name(c, j))] = buf[j]
      s.label_values[j + 1] = buf[j]
    end
  end
  local nb = C.prior_dataset_box_count(c, k)
  if nb > 0 then
    s.boxes = {}
    local b = ffi.new('float[4]')
    for j = 0, nb - 1 do
      capi.status(C.prior_dataset_box(c, k, j, b), 2)
      s.boxes[j + 1] = { b[0], b[1], b[2], b[3] }
    end
  end
  if C.prior_dataset_has_masks(c) ~= 0 then
    s.rles = {}
    for j = 0, C.prior_dataset_rle_count(c, k) - 1 do s.rles[j + 1] = str(C.prior_dataset_rle(c, k, j)) end
  end
  local classes = info[ds] and info[ds].classes
  if classes and s.label_values then
    for j = 1, #s.label_values do
      if s.label_values[j] == 1 then s.class, s.class_name = j - 1, classes[j] end
    end
  end
  return s
end

-- ds:find(id) -> the 1-based position of the sample with this id, or nil.
function Dataset.find(ds, id)
  local c = self_c(ds, 'find')
  if type(id) ~= 'string' then error('find: argument 2 (id) must be a string, got ' .. type(id), 2) end
  local k = C.prior_dataset_find(c, id)
  if k < 0 then return nil end
  return tonumber(k) + 1
end

-- ds:labels() -> [N, C] f32 tensor of every sample's labels.
function Dataset.labels(ds)
  local c = self_c(ds, 'labels')
  local n, nl = tonumber(C.prior_dataset_size(c)), C.prior_dataset_label_count(c)
  local buf = ffi.new('float[?]', math.max(n * nl, 1))
  for k = 0, n - 1 do capi.status(C.prior_dataset_labels(c, k, buf + k * nl), 2) end
  local shape = ffi.new('int64_t[2]', n, nl)
  return T.wrap(C.prior_tensor_from_data(buf, 2, shape, 0, C.prior_cpu()), 2)
end

-- ds:mask(i, width, height) -> [height, width] u8 tensor: the sample's segmentation masks OR-ed.
function Dataset.mask(ds, i, width, height)
  local c, k = index_of(ds, i, 'mask', 2)
  for argn, v in ipairs({ width, height }) do
    if type(v) ~= 'number' or v < 1 or v ~= math.floor(v) then
      error(string.format('mask: argument %d must be a positive integer, got %s', argn + 2, tostring(v)), 2)
    end
  end
  local buf = ffi.new('uint8_t[?]', width * height)
  capi.status(C.prior_dataset_mask(c, k, width, height, buf), 2)
  local shape = ffi.new('int64_t[2]', height, width)
  return T.wrap(C.prior_tensor_from_data(buf, 2, shape, 4, C.prior_cpu()), 2)
end

local wrap_dataset

-- ds:subset(positions) -> a new dataset of those samples (1-based positions, in that order).
function Dataset.subset(ds, positions)
  local c = self_c(ds, 'subset')
  if type(positions) ~= 'table' then error('subset: argument 2 must be a table of positions, got ' .. type(positions), 2) end
  local n = #positions
  local idx = ffi.new('int64_t[?]', math.max(n, 1))
  local size = tonumber(C.prior_dataset_size(c))
  for j = 1, n do
    local v = positions[j]
    if type(v) ~= 'number' or v ~= math.floor(v) or v < 1 or v > size then
      error(string.format('subset: position %d is %s, not a sample in 1..%d', j, tostring(v), size), 2)
    end
    idx[j - 1] = v - 1
  end
  local out = ffi.new('prior_dataset *[1]')
  capi.status(C.prior_dataset_subset(c, idx, n, out), 2)
  return wrap_dataset(out[0], info[ds])
end

-- ds:split(path, which, [{val=0.2, test=0.2, seed=0, fraction=1}]) -> the samples of split `which` ('train', 'val'
-- or 'test') of the split file at path, written first when it does not exist.
function Dataset.split(ds, path, which, opts)
  local c = self_c(ds, 'split')
  if type(path) ~= 'string' then error('split: argument 2 (path) must be a string, got ' .. type(path), 2) end
  if which ~= 'train' and which ~= 'val' and which ~= 'test' then
    error("split: argument 3 must be 'train', 'val' or 'test', got " .. tostring(which), 2)
  end
  opts = U.check_opts('split', opts, { val = 'number', test = 'number', seed = 'integer', fraction = 'number' })
  capi.status(C.prior_split_ensure(c, path, opts.val or 0.2, opts.test or 0.2, opts.seed or 0), 2)
  local out = ffi.new('prior_dataset *[1]')
  capi.status(C.prior_split_select(c, path, which, opts.fraction or 1, out), 2)
  return wrap_dataset(out[0], info[ds])
end

function Dataset.free(ds)
  if ffi.istype(box_t, ds) and ds.c ~= nil then
    U.release(ds.c)
    ds.c = nil
  end
end

box_t = ffi.metatype('prior_dataset_handle', {
  __index = Dataset,
  __len = function(ds) return Dataset.size(ds) end,
  __gc = function(ds) if ds.c ~= nil then U.release(ds.c); ds.c = nil end end,
  __tostring = function(ds)
    if ds.c == nil then return 'dataset (freed)' end
    return string.format('%s dataset: %d samples, %d labels', Dataset.kind(ds), Dataset.size(ds),
                         C.prior_dataset_label_count(ds.c))
  end,
})

wrap_dataset = function(p, extra)
  U.own(p, C.prior_dataset_free)
  local ds = box_t(p)
  if extra then info[ds] = extra end
  return ds
end

local M = { Dataset = Dataset, wrap = wrap_dataset }

function M.is_dataset(x) return ffi.istype(box_t, x) end

local UNCERTAIN = { zero = 0, one = 1, keep = 2 }
local UNCERTAIN_KINDS = { 'zero', 'one', 'keep' }

local function open_args(fname, opts, spec)
  if type(opts) ~= 'table' then error(string.format('%s: argument 1 must be an options table, got %s', fname,
                                                    type(opts)), 3) end
  U.check_opts(fname, opts, spec, 3)
  U.need(fname, opts, 'root', 3)
end

local function flag(v, default) if v == nil then return default end return v and 1 or 0 end

-- prior.data.mimic{root=, split=nil, reports_root=, min_sentences=4, check_images=true, uncertain='zero'}
function M.mimic(opts)
  open_args('mimic', opts, { root = 'string', reports_root = 'string', split = { 'train', 'validate', 'test' },
                             min_sentences = 'integer', check_images = 'boolean', uncertain = UNCERTAIN_KINDS })
  local o = ffi.new('prior_mimic_options')
  C.prior_mimic_options_default(o)
  o.root = opts.root
  if opts.reports_root then o.reports_root = opts.reports_root end
  if opts.split then o.split = opts.split end
  if opts.min_sentences then o.min_sentences = opts.min_sentences end
  o.check_images = flag(opts.check_images, o.check_images)
  if opts.uncertain then o.uncertain = UNCERTAIN[opts.uncertain] end
  local out = ffi.new('prior_dataset *[1]')
  capi.status(C.prior_mimic_open(o, out), 2)
  return wrap_dataset(out[0])
end

-- prior.data.chexpert{root=, split='train'|'valid', frontal_only=true, check_images=false, uncertain='zero'}
function M.chexpert(opts)
  open_args('chexpert', opts, { root = 'string', split = { 'train', 'valid' }, frontal_only = 'boolean',
                                check_images = 'boolean', uncertain = UNCERTAIN_KINDS })
  local o = ffi.new('prior_chexpert_options')
  C.prior_chexpert_options_default(o)
  o.root = opts.root
  if opts.split then o.split = opts.split end
  o.frontal_only = flag(opts.frontal_only, o.frontal_only)
  o.check_images = flag(opts.check_images, o.check_images)
  if opts.uncertain then o.uncertain = UNCERTAIN[opts.uncertain] end
  local out = ffi.new('prior_dataset *[1]')
  capi.status(C.prior_chexpert_open(o, out), 2)
  return wrap_dataset(out[0])
end

-- prior.data.rsna{root=, box_frame=1024, check_images=true}
function M.rsna(opts)
  open_args('rsna', opts, { root = 'string', box_frame = 'number', check_images = 'boolean' })
  local o = ffi.new('prior_rsna_options')
  C.prior_rsna_options_default(o)
  o.root = opts.root
  if opts.box_frame then o.box_frame = opts.box_frame end
  o.check_images = flag(opts.check_images, o.check_images)
  local out = ffi.new('prior_dataset *[1]')
  capi.status(C.prior_rsna_open(o, out), 2)
  return wrap_dataset(out[0])
end

-- prior.data.siim{root=, check_images=true}
function M.siim(opts)
  open_args('siim', opts, { root = 'string', check_images = 'boolean' })
  local o = ffi.new('prior_siim_options')
  C.prior_siim_options_default(o)
  o.root = opts.root
  o.check_images = flag(opts.check_images, o.check_images)
  local out = ffi.new('prior_dataset *[1]')
  capi.status(C.prior_siim_open(o, out), 2)
  return wrap_dataset(out[0])
end

-- prior.data.chexpert5x200{root=, file=root/chexpert_5x200.csv, seed=0, per_class=200, json=nil}
--   -> dataset, class names, class index of each sample (0-based values in a 1-based Lua array)
function M.chexpert5x200(opts)
  open_args('chexpert5x200', opts, { root = 'string', file = 'string', seed = 'integer', per_class = 'integer',
                                     json = 'string' })
  local root = opts.root
  local out = ffi.new('prior_dataset *[1]')
  if opts.json then
    capi.status(C.prior_chexpert5x200_read_json(opts.json, root, out), 2)
  else
    local file = opts.file or U.join(root, 'chexpert_5x200.csv')
    local per_class = opts.per_class or 200
    if per_class < 1 then error('chexpert5x200: option per_class must be >= 1, got ' .. per_class, 2) end
    if U.exists(file) then
      capi.status(C.prior_chexpert5x200_read(file, root, out), 2)
      local n = tonumber(C.prior_dataset_size(out[0]))
      if opts.per_class and n ~= 5 * per_class then
        C.prior_dataset_free(out[0])
        error(string.format('chexpert5x200: %s holds %d samples, not 5 x %d; delete it to build a new selection',
                            file, n, per_class), 2)
      end
    else
      if (opts.seed or 0) < 0 then error('chexpert5x200: option seed must be >= 0, got ' .. opts.seed, 2) end
      capi.status(C.prior_chexpert5x200_build(root, per_class, opts.seed or 0, file, out), 2)
    end
  end
  local classes = {}
  for k = 0, 4 do classes[k + 1] = ffi.string(C.prior_chexpert5x200_class(k)) end
  local ds = wrap_dataset(out[0], { classes = classes })
  local c = ds.c
  local n = tonumber(C.prior_dataset_size(c))
  local buf = ffi.new('float[5]')
  local index = {}
  for k = 0, n - 1 do
    capi.status(C.prior_dataset_labels(c, k, buf), 2)
    for j = 0, 4 do if buf[j] == 1 then index[k + 1] = j end end
  end
  return ds, classes, index
end

return M
