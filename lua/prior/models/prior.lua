-- The PRIOR model from Lua: configuration (presets + overrides), the C model, its parameters as Lua tensors with
-- checkpoint names, one call per training step, the inference encoders, and checkpoints.
--
--   local PRIOR = require 'prior.models.prior'
--   local model = PRIOR{preset = 'tiny', vocab_size = 1200}      -- or PRIOR.new(config)
--   local losses = model:step(batch, stage, tau)                  -- losses.total:backward()
local ffi = require 'ffi'
local prior = require 'prior'
local capi = require 'prior.capi'
local T = require 'prior.tensor'
local C = capi.C

local PRIOR = {}
PRIOR.__index = PRIOR

local TERMS = { 'total', 'global', 'local_image', 'local_text', 'proto', 'rec_image', 'spg', 'kl', 'gpa' }
PRIOR.TERMS = TERMS

-- The preset's table (scripts/configs/<name>.lua), searched from the working directory and the source tree.
function PRIOR.preset(name)
  if type(name) ~= 'string' or not name:match('^[%w_]+$') then
    error('prior.models.prior: preset must be a name like "tiny" or "paper", got ' .. tostring(name), 2)
  end
  local candidates = { 'scripts/configs/' .. name .. '.lua' }
  if PRIOR_BUILD and PRIOR_BUILD.source_dir then
    candidates[#candidates + 1] = PRIOR_BUILD.source_dir .. '/scripts/configs/' .. name .. '.lua'
  end
  for _, path in ipairs(candidates) do
    local f = io.open(path)
    if f then
      f:close()
      return dofile(path)
    end
  end
  error("prior.models.prior: no preset '" .. name .. "' (looked for " .. table.concat(candidates, ', ') .. ')', 2)
end

local LAM = { sigmoid = 0, softmax = 1 }
-- sentence gathering: 'attention' adds the pool's query and key Linear layers (text_encoder.sentence_gather.*)
local POOL = { avg = 0, max = 1, min = 2, attention = 3 }

-- The C config from a model table (a preset's `model` part with overrides).
local function c_config(m)
  local c = C.prior_model_config_paper()
  local function set(field, key, conv)
    local v = m[key]
    if v ~= nil then c[field] = conv and conv(v, key) or v end
  end
  local function enum(map)
    return function(v, key)
      if map[v] == nil then error(string.format("prior model: %s = '%s' is not one of the choices", key, tostring(v)), 4) end
      return map[v]
    end
  end
  local function bool(v) return v and 1 or 0 end
  if m.resnet_blocks then for i = 1, 4 do c.resnet.blocks[i - 1] = m.resnet_blocks[i] end end
  if m.resnet_width then c.resnet.width = m.resnet_width end
  if m.in_channels then c.resnet.in_channels = m.in_channels end
  local b = c.bert
  for key, field in pairs({ vocab_size = 'vocab_size', hidden = 'hidden', layers = 'layers', heads = 'heads',
                            intermediate = 'intermediate', max_positions = 'max_positions',
                            hidden_dropout = 'hidden_dropout', attention_dropout = 'attention_dropout',
                            layer_norm_eps = 'layer_norm_eps' }) do
    if m[key] ~= nil then b[field] = m[key] end
  end
  c.embed_dim = m.hidden or c.bert.hidden
  set('image_size', 'image_size')
  set('pool_heads', 'pool_heads')
  set('num_prototypes', 'num_prototypes')
  set('spb_l1_normalize', 'spb_l1_normalize', bool)
  set('num_queries', 'num_queries')
  set('decoder_layers', 'decoder_layers')
  set('decoder_causal', 'decoder_causal', bool)
  set('decoder_embeddings', 'decoder_embeddings', bool)
  set('ccr_conv_bias', 'ccr_conv_bias', bool)
  set('lam_activation', 'lam_activation', enum(LAM))
  set('local_tokens_reference', 'local_tokens_reference', bool)
  set('proj_mlp', 'proj_mlp', bool)
  set('sentence_pool', 'sentence_pool', enum(POOL))
  set('ccr_channel_dropout', 'ccr_channel_dropout')
  set('logit_scale_init', 'logit_scale_init')
  for _, w in ipairs({ 'global', 'local_image', 'local_text', 'proto', 'rec_image', 'spg', 'kl', 'gpa' }) do
    set('w_' .. w, 'w_' .. w)
  end
  return c
end

-- PRIOR.new{preset='tiny', <model fields>...}: a preset's model table with overrides.
function PRIOR.new(opts)
  opts = opts or {}
  if type(opts) ~= 'table' then error('prior.models.prior: argument 1 must be a table of options', 2) end
  local config = {}
  if opts.preset then
    for k, v in pairs(PRIOR.preset(opts.preset).model) do config[k] = v end
  end
  for k, v in pairs(opts) do
    if k ~= 'preset' then config[k] = v end
  end
  local ptr = C.prior_model_new(c_config(config))
  if ptr == nil then capi.fail(2) end
  config.preset = opts.preset
  local self = setmetatable({ c = ffi.gc(ptr, C.prior_model_free), config = config }, PRIOR)
  self:_collect_params()
  return self
end
-- The model a configuration table describes (its complete `model` part, no preset lookup), for a vocabulary of
-- vocab_size and reports of up to cfg.data.max_length tokens; overrides (may be nil) replace model fields.
function PRIOR.from_config(cfg, vocab_size, overrides)
  local m = { vocab_size = vocab_size }
  for k, v in pairs(cfg.model) do if m[k] == nil then m[k] = v end end
  for k, v in pairs(overrides or {}) do m[k] = v end
  local max_length = cfg.data and cfg.data.max_length or 0
  m.max_positions = math.max(m.max_positions or 0, max_length)
  local model = PRIOR.new(m)
  model.config.preset = cfg.preset
  return model
end
setmetatable(PRIOR, { __call = function(_, opts) return PRIOR.new(opts) end })

-- Lua tensors sharing the C parameters (each holds its own reference).
function PRIOR:_collect_params()
  local p = C.prior_model_params(self.c)
  self._p = p
  self.names, self.tensors, self.buffers = {}, {}, {}
  for i = 0, C.prior_params_count(p) - 1 do
    local name = ffi.string(C.prior_params_name(p, i))
    local t = T.wrap(C.prior_tensor_retain(C.prior_params_tensor(p, i)))
    self.names[#self.names + 1] = name
    self.tensors[name] = t
    self.buffers[name] = C.prior_params_is_buffer(p, i) ~= 0
  end
  capi.status(C.prior_params_set_requires_grad(p, 1))
end

-- The trainable parameters (a list of tensors, for an optimizer), in checkpoint order.
function PRIOR:parameters()
  local out = {}
  for _, name in ipairs(self.names) do
    if not self.buffers[name] then out[#out + 1] = self.tensors[name] end
  end
  return out
end

-- {name, tensor} pairs of parameters and buffers, in checkpoint order.
function PRIOR:named_parameters()
  local out = {}
  for _, name in ipairs(self.names) do out[#out + 1] = { name, self.tensors[name] } end
  return out
end

function PRIOR:num_parameters() return tonumber(C.prior_params_numel(self._p)) end
function PRIOR:zero_grad() C.prior_params_zero_grad(self._p) end

-- One forward pass of a training stage on a loader batch (its `.c` is the C batch). Returns a table of loss
-- tensors (total, and the stage's terms; absent terms are nil).
function PRIOR:step(batch, stage, tau, opts)
  opts = opts or {}
  if type(batch) ~= 'table' or batch.c == nil then error('step: argument 1 must be a loader batch', 2) end
  if stage ~= 1 and stage ~= 2 and stage ~= 3 then error('step: argument 2 (stage) must be 1, 2 or 3', 2) end
  local training = opts.training == nil and 1 or (opts.training and 1 or 0)
  local l = ffi.new('prior_losses')
  capi.status(C.prior_model_step(self.c, batch.c, stage, tau or 1.0, training, nil, l), 2)
  local out = {}
  for _, k in ipairs(TERMS) do
    if l[k] ~= nil then out[k] = T.wrap(l[k]) end -- each field is a new reference; the wrapper owns it
  end
  return out
end

-- images [B, 1, H, W] -> global [B, D] and local tokens [B, N, D] (eval mode, no graph).
function PRIOR:encode_image(images)
  local g, l = ffi.new('prior_tensor*[1]'), ffi.new('prior_tensor*[1]')
  prior.no_grad(function() capi.status(C.prior_model_encode_image(self.c, T.check(images, 'encode_image', 1), g, l)) end)
  return T.wrap(g[0]), T.wrap(l[0])
end

-- Tokenized reports -> global text [B, D], sentence vectors [B, M, D] (through the SPB when use_spb) and mask [B, M].
function PRIOR:encode_text(ids, attention_mask, sentence_index, use_spb, tau)
  local g, s, m = ffi.new('prior_tensor*[1]'), ffi.new('prior_tensor*[1]'), ffi.new('prior_tensor*[1]')
  prior.no_grad(function()
    capi.status(C.prior_model_encode_text(self.c, T.check(ids, 'encode_text', 1), T.check(attention_mask, 'encode_text', 2),
                                          T.check(sentence_index, 'encode_text', 3), use_spb and 1 or 0, tau or 0.01,
                                          g, s, m))
  end)
  return T.wrap(g[0]), T.wrap(s[0]), T.wrap(m[0])
end

-- LAM similarity of every image (local tokens [B, N, D]) to every text (sentences [P, M, D], mask [P, M]): [B, P].
function PRIOR:local_scores(image_local, sents, mask)
  local out = ffi.new('prior_tensor*[1]')
  prior.no_grad(function()
    capi.status(C.prior_model_local_scores(self.c, T.check(image_local, 'local_scores', 1), T.check(sents, 'local_scores', 2),
                                           T.check(mask, 'local_scores', 3), out))
  end)
  return T.wrap(out[0])
end

-- Sets the SPB prototypes to sentence vectors drawn from the batches of a loader (epoch `epoch`): K distinct real
-- sentences, chosen by the global RNG. Starting stage 2 from the data keeps the prototype-replaced sentences as
-- distinct as the raw ones; from random prototypes the soft query first maps every sentence to nearly the same
-- mixture and the global alignment collapses (measured on the tiny preset).
function PRIOR:init_prototypes(loader, epoch)
  local E = self.tensors['spb.prototypes']
  local k, rows = E:size(1), {}
  for batch in loader:epoch(epoch or 0) do
    local _, sents, mask = self:encode_text(batch.input_ids, batch.attention_mask, batch.sentence_index, false)
    local d = sents:size(3)
    local flat, m = sents:reshape({ -1, d }), mask:reshape({ -1 }):totable()
    for i, v in ipairs(m) do
      if v > 0 then rows[#rows + 1] = flat[i] end
    end
    if #rows >= 4 * k then break end
  end
  if #rows < k then
    error(string.format('init_prototypes: %d sentences in the data, %d prototypes', #rows, k), 2)
  end
  -- a random choice of k distinct rows, from the runtime's RNG
  local keys = prior.rand({ #rows }):totable()
  local order = {}
  for i = 1, #rows do order[i] = i end
  table.sort(order, function(a, b) return keys[a] < keys[b] end)
  local picked = {}
  for i = 1, k do picked[i] = rows[order[i]] end
  prior.no_grad(function() E:copy_(prior.stack(picked, 1)) end)
end

-- Inspection for figures (eval mode, no graph). Text arguments are a tokenized batch (ids, attention_mask,
-- sentence_index [B, L]); use_spb and tau as in encode_text.
-- LAM text-to-image attention [B, M, N] of each sentence over the image tokens (token y*w + x, w = image_size / 32).
function PRIOR:attention_maps(images, ids, attention_mask, sentence_index, use_spb, tau)
  local out = ffi.new('prior_tensor*[1]')
  capi.status(C.prior_model_attention_maps(self.c, T.check(images, 'attention_maps', 1), T.check(ids, 'attention_maps', 2),
                                           T.check(attention_mask, 'attention_maps', 3), T.check(sentence_index, 'attention_maps', 4),
                                           use_spb and 1 or 0, tau or 0.01, out), 2)
  return T.wrap(out[0])
end

-- The CCR image decoder's reconstruction [B, 1, H, W] of each (normalised) image, conditioned on its report.
function PRIOR:reconstruct(images, ids, attention_mask, sentence_index, use_spb, tau)
  local out = ffi.new('prior_tensor*[1]')
  capi.status(C.prior_model_reconstruct(self.c, T.check(images, 'reconstruct', 1), T.check(ids, 'reconstruct', 2),
                                        T.check(attention_mask, 'reconstruct', 3), T.check(sentence_index, 'reconstruct', 4),
                                        use_spb and 1 or 0, tau or 0.01, out), 2)
  return T.wrap(out[0])
end

-- The CCR text decoder's predicted sentence prototypes [B, Q, D].
function PRIOR:predict_prototypes(images)
  local out = ffi.new('prior_tensor*[1]')
  capi.status(C.prior_model_predict_prototypes(self.c, T.check(images, 'predict_prototypes', 1), out), 2)
  return T.wrap(out[0])
end

-- softmax(x E^T / tau) [..., K]: the distribution of vectors x [..., D] over the SPB's prototypes (tau default 1).
function PRIOR:spb_distribution(x, tau)
  local out = ffi.new('prior_tensor*[1]')
  capi.status(C.prior_model_spb_distribution(self.c, T.check(x, 'spb_distribution', 1), tau or 1.0, out), 2)
  return T.wrap(out[0])
end

-- Saves every parameter and buffer (safetensors, atomic); meta: a table of string pairs.
function PRIOR:save(path, meta)
  local keys, values = {}, {}
  for k, v in pairs(meta or {}) do keys[#keys + 1] = tostring(k); values[#values + 1] = tostring(v) end
  local ck = ffi.new('const char*[?]', #keys + 1, keys)
  local cv = ffi.new('const char*[?]', #values + 1, values)
  capi.status(C.prior_params_save(self._p, path, #keys, ck, cv), 2)
end

-- Loads parameters into this model from a checkpoint (ours, or another's with mapping options: strip_prefixes,
-- add_prefix, drop_prefixes, rename, only_prefixes, drop_num_batches_tracked, gamma_beta, sum_rgb_stem,
-- squeeze_leading_ones, lenient, root_key; see prior/nn_checkpoint.h). Returns the report. Reached as model:load.
local function load_into(self, path, opts)
  opts = opts or {}
  local o = C.prior_load_options_default()
  for _, k in ipairs({ 'root_key', 'strip_prefixes', 'add_prefix', 'drop_prefixes', 'rename', 'only_prefixes' }) do
    if opts[k] ~= nil then o[k] = opts[k] end
  end
  for _, k in ipairs({ 'drop_num_batches_tracked', 'gamma_beta', 'sum_rgb_stem', 'squeeze_leading_ones', 'lenient' }) do
    if opts[k] ~= nil then o[k] = opts[k] and 1 or 0 end
  end
  local rep = ffi.new('prior_load_report')
  capi.status(C.prior_params_load(self._p, path, o, rep), 2)
  return { loaded = rep.loaded, missing = rep.missing, unexpected = rep.unexpected, mismatched = rep.mismatched,
           summary = ffi.string(rep.summary) }
end

-- PRIOR.load(path, [opts]): a model built for a checkpoint and loaded from it (strict). Returns the model and the
-- load report (with `kind`). The checkpoint is ours (written by model:save or a training checkpoint; the preset
-- comes from opts.preset or the file's metadata) or the PRIOR authors': their Lightning .ckpt (or state_dict) of the
-- whole model, or their image-encoder-only file (prior.models.reference tells them apart). For theirs, sizes are
-- read from the tensors, the reference-compatibility switches are set, model.settings holds the data/train/eval
-- settings that reproduce the reference, and the model's other parts keep their initial values when only the image
-- encoder is in the file. opts: model fields overriding (for theirs: supplying what the tensors do not say, e.g.
-- heads, which defaults to 12 for a 768-wide BERT; text sizes for an image-encoder file), and preset.
-- One name for both: model:load(path, opts) loads into a model, PRIOR.load(path, opts) builds one.
function PRIOR.load(path, opts, ...)
  if getmetatable(path) == PRIOR then return load_into(path, opts, ...) end
  opts = opts or {}
  if type(path) ~= 'string' then error('prior.models.prior.load: argument 1 (path) must be a string', 2) end
  local ref = require 'prior.models.reference'
  local shapes, names, meta = ref.tensors(path)
  local kind = ref.kind(shapes)
  if not kind then
    error(string.format("prior.models.prior.load: %s is neither this runtime's checkpoint nor one of the PRIOR " ..
                        "reference's (no spb.prototypes, sentence_bank.embed.weight or ResNet conv1.weight)", path), 2)
  end
  if kind == 'ours' then
    local preset = opts.preset or meta.preset
    if not preset or preset == 'custom' then
      error(string.format('prior.models.prior.load: %s does not name its preset; pass opts.preset and the model fields', path), 2)
    end
    local m = { preset = preset }
    local words = shapes['text_encoder.encoder.embeddings.word_embeddings.weight']
    if words then m.vocab_size = words[1] end
    local pos = shapes['text_encoder.encoder.embeddings.position_embeddings.weight']
    if pos then m.max_positions = pos[1] end
    for k, v in pairs(opts) do m[k] = v end
    local model = PRIOR.new(m)
    local rep = model:load(path, { drop_prefixes = 'optimizer.' }) -- training checkpoints also hold the optimizer
    rep.kind = kind
    return model, rep
  end
  local m = {}
  if kind ~= 'lightning' then -- the text side is not in the file: the paper's sizes unless given
    for k, v in pairs(PRIOR.preset('paper').model) do m[k] = v end
    m.decoder_layers = 8 -- the reference's sentence decoder
  end
  m.pool_heads = 8 -- fixed in the reference's code for both attention pools
  for k, v in pairs(ref.SWITCHES) do m[k] = v end
  for k, v in pairs(ref.sizes(shapes, names, kind, path)) do m[k] = v end -- what the file shows wins
  for k, v in pairs(opts) do if k ~= 'preset' then m[k] = v end end
  if not m.heads then
    if m.hidden ~= 768 then
      error(string.format('prior.models.prior.load: %s has a %d-wide BERT; pass opts.heads (the file does not say)',
                          path, m.hidden), 2)
    end
    m.heads = 12
  end
  local model = PRIOR.new(m)
  model.config.preset = 'reference'
  local ok, rep = pcall(load_into, model, path, ref.load_options(kind))
  if not ok then -- the loader names our parameters; say what they are called in the file too
    local msg, seen, theirs = tostring(rep), {}, {}
    for name in msg:gmatch('[%w_]+%.[%w_%.]+') do
      local their = kind == 'lightning' and ref.their_name(name) or name
      if their ~= name and not seen[name] then seen[name], theirs[#theirs + 1] = true, name .. ' = ' .. their end
    end
    if #theirs > 0 then msg = msg .. ' [in the reference\'s names: ' .. table.concat(theirs, ', ') .. ']' end
    error(msg, 2)
  end
  rep.kind = kind
  model.settings = { model = ref.SWITCHES, data = ref.SETTINGS.data, train = ref.SETTINGS.train, eval = ref.SETTINGS.eval }
  return model, rep
end

function PRIOR:__tostring()
  return string.format('PRIOR(%s; %.2fM parameters, image %d, hidden %d, %d prototypes)', self.config.preset or 'custom',
                       self:num_parameters() / 1e6, self.config.image_size or 224, self.config.hidden or 768,
                       self.config.num_prototypes or 512)
end

return PRIOR
