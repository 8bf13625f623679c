-- prior.data.loader: the threaded batch loader (prior/loader.h) from Lua.
--
-- A batch is a Lua table of tensors that hold their own references, so the C batch can go at once; the C batch
-- itself stays available as batch.c until the next batch is fetched (or :free()), for C functions that take a
-- prior_batch. The loader keeps its dataset and tokenizer alive: both are freed only after the loader is.
local ffi = require 'ffi'
local capi = require 'prior.capi'
local T = require 'prior.tensor'
local U = require 'prior.data.util'
local D = require 'prior.data.dataset'
local Tok = require 'prior.data.tokenizer'
local C = capi.C

local Loader = {}
Loader.__index = Loader

local SPEC = {
  batch_size = 'integer', workers = 'integer', prefetch = 'integer', shuffle = 'boolean', drop_last = 'boolean',
  seed = 'integer', image_size = 'integer', height = 'integer', width = 'integer', augment = 'boolean',
  degrees = 'number', translate = 'number', scale_min = 'number', scale_max = 'number', hflip = 'boolean',
  mean = 'number', std = 'number', tokenizer = 'table', max_length = 'integer', cut = { 'reference', 'keep_sep' },
  shuffle_sentences = 'boolean', masks = 'boolean', max_fail_fraction = 'number', shards = 'integer', shard = 'integer',
}
local POSITIVE = { 'batch_size', 'image_size', 'height', 'width', 'prefetch', 'max_length' }
local TENSORS = { 'images', 'input_ids', 'attention_mask', 'sentence_index', 'labels', 'masks', 'boxes', 'box_counts',
                  'sample_indices' }

local function self_c(l, fname)
  if getmetatable(l) ~= Loader then error(string.format('%s: call it as a method (loader:%s(...))', fname, fname), 3) end
  if l.c == nil then error(string.format('%s: the loader was freed', fname), 3) end
  return l.c
end

-- Frees the C batch handed out last (its tensors live on in the Lua batch that wrapped them).
local function drop_current(l)
  local st = l.state
  if st.current ~= nil then
    C.prior_batch_free(st.current)
    st.current = nil
  end
end

local function to_lua(l, b)
  local out = { size = tonumber(b.size), epoch = tonumber(b.epoch), index = tonumber(b.index) + 1, c = b }
  for _, k in ipairs(TENSORS) do
    local p = b[k]
    if p ~= nil then out[k] = T.wrap(C.prior_tensor_retain(p)) end
  end
  l.state.current = b
  return out
end

function Loader:batches_per_epoch()
  return tonumber(C.prior_loader_batches_per_epoch(self_c(self, 'batches_per_epoch')))
end

-- for batch in loader:epoch(e) do ... end: the batches of epoch e (any integer >= 0; with the seed it decides the
-- order and every random draw, so the same (seed, e) gives the same batches).
function Loader:epoch(e)
  local c = self_c(self, 'epoch')
  if type(e) ~= 'number' or e ~= math.floor(e) or e < 0 then
    error('epoch: argument 1 must be an integer >= 0, got ' .. tostring(e), 2)
  end
  drop_current(self)
  capi.status(C.prior_loader_start_epoch(c, e), 2)
  local slot = ffi.new('prior_batch *[1]')
  local done = false
  return function()
    if done then return nil end
    if self.c == nil then error('epoch: the loader was freed during the epoch', 2) end
    drop_current(self)
    capi.status(C.prior_loader_next(self.c, slot), 2)
    if slot[0] == nil then
      done = true
      return nil
    end
    return to_lua(self, slot[0])
  end
end

-- loader:make_batch(positions, [epoch=0]) -> one batch of the chosen samples (1-based positions), built now.
function Loader:make_batch(positions, epoch)
  local c = self_c(self, 'make_batch')
  if type(positions) ~= 'table' or #positions == 0 then
    error('make_batch: argument 1 must be a non-empty table of sample positions', 2)
  end
  local n = #positions
  local size = tonumber(C.prior_dataset_size(self.dataset_c))
  local idx = ffi.new('int64_t[?]', n)
  for j = 1, n do
    local v = positions[j]
    if type(v) ~= 'number' or v ~= math.floor(v) or v < 1 or v > size then
      error(string.format('make_batch: position %d is %s, not a sample in 1..%d', j, tostring(v), size), 2)
    end
    idx[j - 1] = v - 1
  end
  drop_current(self)
  local slot = ffi.new('prior_batch *[1]')
  capi.status(C.prior_loader_make_batch(c, epoch or 0, idx, n, slot), 2)
  return to_lua(self, slot[0])
end

local stats_mt = {
  __tostring = function(s) return s.summary end,
}

-- loader:stats() -> {batches, samples, skipped, waits, stall_seconds, max_stall_seconds, max_ready, summary}
function Loader:stats()
  local st = ffi.new('prior_loader_stats')
  C.prior_loader_stats_get(self_c(self, 'stats'), st)
  local buf = ffi.new('char[512]')
  C.prior_loader_stats_str(st, buf, 512)
  return setmetatable({
    batches = tonumber(st.batches), samples = tonumber(st.samples), skipped = tonumber(st.failed),
    waits = tonumber(st.waits), stall_seconds = st.wait_seconds, max_stall_seconds = st.max_wait_seconds,
    max_ready = tonumber(st.max_ready), summary = ffi.string(buf),
  }, stats_mt)
end

-- Stops the workers, frees the loader and the last C batch, and lets go of the dataset and tokenizer.
function Loader:free()
  if self.c ~= nil then
    drop_current(self)
    C.prior_loader_free(ffi.gc(self.c, nil))
    self.c = nil
    U.release(self.dataset_c)
    if self.tokenizer_c then U.release(self.tokenizer_c) end
  end
end

Loader.__tostring = function(self)
  if self.c == nil then return 'Loader (freed)' end
  return string.format('Loader (%d batches per epoch)', self:batches_per_epoch())
end

local M = { Loader = Loader }

-- prior.data.loader(dataset, [opts]) -> loader. Options: see docs/lua-api.md.
function M.loader(ds, opts)
  if not D.is_dataset(ds) then error('loader: argument 1 must be a dataset, got ' .. type(ds), 2) end
  if ds.c == nil then error('loader: argument 1 is a dataset that was freed', 2) end
  U.check_opts('loader', opts, SPEC)
  opts = opts or {}
  for _, k in ipairs(POSITIVE) do
    if opts[k] and opts[k] < 1 then error(string.format('loader: option %s must be >= 1, got %d', k, opts[k]), 2) end
  end
  if opts.workers and opts.workers < 0 then error('loader: option workers must be >= 0, got ' .. opts.workers, 2) end
  if opts.seed and opts.seed < 0 then error('loader: option seed must be >= 0, got ' .. opts.seed, 2) end
  local tok = opts.tokenizer
  if tok ~= nil and getmetatable(tok) ~= Tok.Tokenizer then
    error('loader: option tokenizer must be a tokenizer (prior.data.tokenizer), got a table', 2)
  end
  if tok ~= nil and tok.c == nil then error('loader: option tokenizer is a tokenizer that was freed', 2) end

  local o = ffi.new('prior_loader_options')
  C.prior_loader_options_default(o)
  local function set(field, v) if v ~= nil then o[field] = v end end
  local function setb(field, v) if v ~= nil then o[field] = v and 1 or 0 end end
  set('batch_size', opts.batch_size)
  set('workers', opts.workers)
  set('prefetch', opts.prefetch)
  setb('shuffle', opts.shuffle)
  setb('drop_last', opts.drop_last)
  set('seed', opts.seed)
  set('height', opts.image_size); set('width', opts.image_size)
  set('height', opts.height); set('width', opts.width)
  setb('augment', opts.augment)
  set('degrees', opts.degrees)
  set('translate', opts.translate)
  set('scale_min', opts.scale_min); set('scale_max', opts.scale_max)
  setb('hflip', opts.hflip)
  set('mean', opts.mean); set('std', opts.std)
  if tok then o.tokenizer = tok.c end
  set('max_length', opts.max_length)
  if opts.cut then o.cut = opts.cut == 'reference' and 1 or 0 end
  setb('shuffle_sentences', opts.shuffle_sentences)
  setb('masks', opts.masks)
  set('max_fail_fraction', opts.max_fail_fraction)
  set('shards', opts.shards); set('shard', opts.shard)

  local out = ffi.new('prior_loader *[1]')
  capi.status(C.prior_loader_create(ds.c, o, out), 2)
  -- The workers read the dataset and the tokenizer: hold them until the loader is freed.
  local ds_c = ds.c
  U.retain(ds_c)
  -- A plain copy of the tokenizer pointer: tok.c carries the tokenizer's finaliser and must not be held here.
  local tok_c = tok and U.plain(tok.c)
  if tok_c then U.retain(tok_c) end
  -- The finaliser must not reach the loader table (that would keep the cdata alive through LuaJIT's
  -- finaliser table), so the last C batch lives in a separate state table both share.
  local state = {}
  local l = setmetatable({ dataset = ds, tokenizer = tok, state = state, dataset_c = ds_c, tokenizer_c = tok_c },
                         Loader)
  l.c = ffi.gc(out[0], function(p)
    -- Collected without :free(): the last C batch goes with the loader.
    if state.current ~= nil then C.prior_batch_free(state.current); state.current = nil end
    C.prior_loader_free(p)
    U.release(ds_c)
    if tok_c then U.release(tok_c) end
  end)
  return l
end

return M
