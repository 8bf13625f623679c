-- prior.data.synthetic: the procedural chest radiograph trees (prior/synth.h) under one root, written once.
--
-- Each tree gets a marker file written after its last file; its content is the settings that made the tree.
-- A tree whose marker is missing (never written, or interrupted) is generated again; one whose marker records
-- other settings is an error unless force is set, so a stale tree is never read as if it were the one asked for.
local ffi = require 'ffi'
local capi = require 'prior.capi'
local U = require 'prior.data.util'
local C = capi.C

local MARKER = '.prior-synthetic-complete'

-- Tree name -> folder under root and the C writer.
local TREES = {
  mimic = { dir = 'mimic-cxr-jpg', write = 'prior_synth_write_mimic' },
  chexpert = { dir = 'chexpert', write = 'prior_synth_write_chexpert' },
  rsna = { dir = 'rsna', write = 'prior_synth_write_rsna' },
  siim = { dir = 'siim', write = 'prior_synth_write_siim' },
}

local SPEC = {
  root = 'string', seed = 'integer', image_size = 'integer', jpeg_quality = 'integer',
  mimic_subjects = 'integer', broken_report_fraction = 'number',
  chexpert_patients = 'integer', chexpert_valid_patients = 'integer', per_class = 'integer',
  rsna_images = 'integer', siim_images = 'integer', trees = 'table', force = 'boolean',
}

local function read_file(path)
  local f = io.open(path, 'rb')
  if not f then return nil end
  local s = f:read('*a')
  f:close()
  return s
end

local function write_atomic(path, text)
  local tmp = path .. '.tmp'
  local f, err = io.open(tmp, 'wb')
  if not f then error('synthetic: cannot write ' .. tmp .. ': ' .. tostring(err), 0) end
  f:write(text)
  f:close()
  local ok, err2 = os.rename(tmp, path)
  if not ok then error('synthetic: cannot rename ' .. tmp .. ' to ' .. path .. ': ' .. tostring(err2), 0) end
end

-- The settings that decide a tree's content, as the marker's text.
local function describe(name, cfg)
  local common = string.format('seed %s\nimage_size %d\njpeg_quality %d\n', tostring(cfg.seed):gsub('ULL$', ''),
                               cfg.image_size, cfg.jpeg_quality)
  if name == 'mimic' then
    return common .. string.format('mimic_subjects %d\nbroken_report_fraction %.6g\n', cfg.mimic_subjects,
                                   cfg.broken_report_fraction)
  elseif name == 'chexpert' then
    return common .. string.format('chexpert_train_patients %d\nchexpert_clean_per_class %d\n'
                                   .. 'chexpert_valid_patients %d\n', cfg.chexpert_train_patients,
                                   cfg.chexpert_clean_per_class, cfg.chexpert_valid_patients)
  elseif name == 'rsna' then
    return common .. string.format('rsna_images %d\n', cfg.rsna_images)
  end
  return common .. string.format('siim_images %d\n', cfg.siim_images)
end

-- prior.data.synthetic{root=, seed=0, image_size=224, mimic_subjects=, chexpert_patients=, per_class=,
--                      rsna_images=, siim_images=, trees={'mimic','chexpert'}, force=false}
return function(opts)
  if type(opts) ~= 'table' then error('synthetic: argument 1 must be an options table, got ' .. type(opts), 2) end
  U.check_opts('synthetic', opts, SPEC)
  local root = U.need('synthetic', opts, 'root')
  local trees = opts.trees or { 'mimic', 'chexpert' }
  for i, name in ipairs(trees) do
    if not TREES[name] then
      error(string.format("synthetic: option trees[%d] must be 'mimic', 'chexpert', 'rsna' or 'siim', got %s", i,
                          tostring(name)), 2)
    end
  end
  local function nonneg(name, lo)
    local v = opts[name]
    if v ~= nil and v < (lo or 0) then
      error(string.format('synthetic: option %s must be >= %d, got %d', name, lo or 0, v), 3)
    end
  end
  for _, k in ipairs({ 'seed', 'mimic_subjects', 'chexpert_patients', 'chexpert_valid_patients', 'per_class',
                       'rsna_images', 'siim_images' }) do nonneg(k) end
  if opts.image_size and (opts.image_size < 32 or opts.image_size > 2048) then
    error('synthetic: option image_size must be in 32..2048, got ' .. opts.image_size, 2)
  end

  local cfg = ffi.new('prior_synth_config')
  C.prior_synth_config_default(cfg)
  if opts.seed then cfg.seed = opts.seed end
  if opts.image_size then cfg.image_size = opts.image_size end
  if opts.jpeg_quality then cfg.jpeg_quality = opts.jpeg_quality end
  if opts.mimic_subjects then cfg.mimic_subjects = opts.mimic_subjects end
  if opts.broken_report_fraction then cfg.broken_report_fraction = opts.broken_report_fraction end
  if opts.chexpert_patients then cfg.chexpert_train_patients = opts.chexpert_patients end
  if opts.chexpert_valid_patients then cfg.chexpert_valid_patients = opts.chexpert_valid_patients end
  if opts.per_class then cfg.chexpert_clean_per_class = opts.per_class end
  if opts.rsna_images then cfg.rsna_images = opts.rsna_images end
  if opts.siim_images then cfg.siim_images = opts.siim_images end

  local paths = { root = root, vocab = U.join(root, 'vocab.txt') }
  for name, t in pairs(TREES) do paths[name] = U.join(root, t.dir) end

  for _, name in ipairs(trees) do
    local dir = paths[name]
    local marker = U.join(dir, MARKER)
    local want = describe(name, cfg)
    local have = read_file(marker)
    if have ~= want or opts.force then
      if have and have ~= want and not opts.force then
        error(string.format('synthetic: %s was generated with other settings (%s has:\n%s); pass force=true '
                            .. 'to regenerate it, or use another root', dir, marker, have), 2)
      end
      os.remove(marker)
      capi.status(C[TREES[name].write](cfg, dir), 2)
      write_atomic(marker, want)
    end
  end
  -- The vocabulary depends on nothing but the generator's word tables.
  if opts.force or not U.exists(paths.vocab) then
    capi.status(C.prior_synth_write_vocab(paths.vocab .. '.tmp'), 2)
    local ok, err = os.rename(paths.vocab .. '.tmp', paths.vocab)
    if not ok then error('synthetic: cannot rename ' .. paths.vocab .. '.tmp: ' .. tostring(err), 2) end
  end
  return paths
end
