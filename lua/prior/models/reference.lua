-- The PRIOR authors' released checkpoints (github.com/QtacierP/PRIOR): what their files hold, how their parameter
-- names map to ours, the sizes their tensors imply, and the switches under which our model computes what theirs does
-- (docs/architecture.md, "Checkpoints"). The one place that knows the reference's names; prior.models.prior.load
-- uses it.
--
-- Files: a PyTorch Lightning .ckpt of their `Prior` module (the tensors under 'state_dict'; a torch.save of
-- model.state_dict() reads the same), and pretrained/prior_resnet50.pt, the image encoder alone. How the latter was
-- written is not in their code, so three layouts are recognised: image_encoder.state_dict() ("encoder.conv1.weight",
-- "atten_pool.*"), the same names under "image_encoder.", and a bare torchvision ResNet ("conv1.weight", possibly an
-- RGB stem and an "fc." head).
local ffi = require 'ffi'
local capi = require 'prior.capi'
local C = capi.C

local M = {}

-- Model fields that reproduce the reference (MODEL.md "a config switch reproduces the reference").
M.SWITCHES = {
  decoder_causal = true,          -- HF BertModel with is_decoder applies a causal mask to the queries
  decoder_embeddings = true,      -- the queries go in as inputs_embeds: + positions + token type 0, LayerNorm
  ccr_conv_bias = false,          -- smp Conv2dReLU: conv without bias before BatchNorm
  local_tokens_reference = true,  -- local tokens = .view(B, -1, C) of the NCHW map
  spb_l1_normalize = false,       -- prototypes initialised N(0, 1) (irrelevant once loaded; kept for training on)
  lam_activation = 'sigmoid', proj_mlp = false, sentence_pool = 'avg', in_channels = 1,
}

-- Settings outside the model, shaped like a preset (scripts/configs/*.lua) so they can be merged into one: the
-- reference trains with a fixed SPB temperature 0.9 and evaluates zero-shot CheXpert with its own z-score
-- statistics, the local term weighted 0.5 and the prompts through the SPB at that temperature (its query adds
-- Gumbel noise there; ours queries without noise).
M.SETTINGS = {
  data = { mean = 0.5063, std = 0.2895 },
  train = { tau_schedule = 'fixed', tau_start = 0.9, tau_end = 0.9 },
  eval = { prompts = '%s is observed', local_weight = 0.5, use_spb = true, tau = 0.9 },
}

-- Whole-model checkpoints. Dropped by name (not by lenient loading), with why:
M.DROP = {
  'global_text_projection.',                     -- created in Prior.__init__, used by no forward
  'text_encoder.encoder.embeddings.position_ids', -- transformers 4.17 saves arange(max_positions) as a buffer;
  'sentence_decoder.embeddings.position_ids',     -- our BERT computes the positions
}

-- Then renamed, in order (reference prefix -> ours; '*' is one name component). Names not listed are already ours:
-- image_encoder.encoder.* (torchvision names), text_encoder.encoder.* (HF BERT names, pooler included),
-- global_image_projection, local_image_projection, local_text_projection, predictor.0/2, logit_scale,
-- local_logit_scale.
M.RENAME = {
  { 'image_encoder.atten_pool.', 'image_encoder.attnpool.' },   -- attribute name of their AttentionPool2d
  { 'global_text_attention.', 'text_encoder.sentence_pool.' },  -- their SentenceAttentionPool over sentences
  { 'item_gather.attention_pool.', 'text_encoder.sentence_gather.' }, -- only in runs with gather pool 'attention'
  { 'sentence_bank.embed.weight', 'spb.prototypes' },           -- SPB keeps the prototypes in an nn.Embedding
  -- LocalCrossAttention: query1/key1/value1 project the image tokens, query2/key2/value2 the sentences; scores1 =
  -- query2(T) key1(I)^T weights value1(I) (each sentence's image context), scores2 = query1(I) key2(T)^T weights
  -- value2(T) (each patch's text context)
  { 'local_cross_attention.query2.', 'lam.text_to_image.query.' },
  { 'local_cross_attention.key1.', 'lam.text_to_image.key.' },
  { 'local_cross_attention.value1.', 'lam.text_to_image.value.' },
  { 'local_cross_attention.query1.', 'lam.image_to_text.query.' },
  { 'local_cross_attention.key2.', 'lam.image_to_text.key.' },
  { 'local_cross_attention.value2.', 'lam.image_to_text.value.' },
  { 'prototype_queries', 'ccr_text.queries' },                   -- [1, Q, D] there, [Q, D] here: squeezed on load
  { 'sentence_decoder.', 'ccr_text.decoder.' },                  -- a BertModel: embeddings + layers, HF names
  -- ImageDecoder blocks: smp Conv2dReLU is Sequential(conv, BatchNorm2d, ReLU), so conv = .0 and its BN = .1
  { 'image_decoder.blocks.*.conv1.0.', 'ccr_image.blocks.*.conv1.' },
  { 'image_decoder.blocks.*.conv1.1.', 'ccr_image.blocks.*.bn1.' },
  { 'image_decoder.blocks.*.conv2.0.', 'ccr_image.blocks.*.conv2.' },
  { 'image_decoder.blocks.*.conv2.1.', 'ccr_image.blocks.*.bn2.' },
  { 'image_decoder.output_head.0.', 'ccr_image.head.' },         -- Sequential(conv3x3) around the head
}

local function rules(list)
  local out = {}
  for i, r in ipairs(list) do out[i] = r[1] .. '=' .. r[2] end
  return table.concat(out, ',')
end

-- One rule on one name, as the C loader applies it ('*' = one non-empty component); nil when it does not apply.
local function apply_rule(name, from, to)
  local pat = '^' .. from:gsub('[%^%$%(%)%%%.%[%]%+%-%?]', '%%%0'):gsub('%*', '([^.]+)') .. '(.*)$'
  local caps = { name:match(pat) }
  if #caps == 0 then return nil end
  local tail, k = table.remove(caps), 0
  return (to:gsub('%*', function() k = k + 1 return caps[k] end)) .. tail
end

-- Our name for a tensor of a whole-model reference checkpoint (nil: dropped on load).
function M.our_name(name)
  for _, d in ipairs(M.DROP) do
    if name:sub(1, #d) == d then return nil end
  end
  for _, r in ipairs(M.RENAME) do name = apply_rule(name, r[1], r[2]) or name end
  return name
end

-- The reference's name for one of our tensors (the rules backwards).
function M.their_name(name)
  for i = #M.RENAME, 1, -1 do name = apply_rule(name, M.RENAME[i][2], M.RENAME[i][1]) or name end
  return name
end

-- {name = shape (list)} and the list of names of the tensors a checkpoint file holds (safetensors or PyTorch; for a
-- Lightning file, its state_dict), plus the safetensors metadata (or {}).
function M.tensors(path)
  local f = io.open(path, 'rb')
  if not f then error(string.format("prior.models.prior.load: cannot open '%s'", tostring(path)), 3) end
  local head = f:read(9) or ''
  f:close()
  local records, n, meta = nil, 0, {}
  local keep
  if #head == 9 and head:sub(9, 9) == '{' then
    local st = ffi.new('prior_safetensors*[1]')
    capi.status(C.prior_safetensors_open(path, st), 3)
    keep = ffi.gc(st[0], C.prior_safetensors_close)
    records, n = C.prior_safetensors_tensors(keep), tonumber(C.prior_safetensors_count(keep))
    for i = 0, tonumber(C.prior_safetensors_metadata_count(keep)) - 1 do
      meta[ffi.string(C.prior_safetensors_metadata_key(keep, i))] = ffi.string(C.prior_safetensors_metadata_value(keep, i))
    end
  else
    local tf = ffi.new('prior_torchfile*[1]')
    capi.status(C.prior_torchfile_open(path, nil, tf), 3)
    keep = ffi.gc(tf[0], C.prior_torchfile_close)
    records, n = C.prior_torchfile_tensors(keep), tonumber(C.prior_torchfile_count(keep))
  end
  local shapes, names = {}, {}
  for i = 0, n - 1 do
    local r = records[i]
    local shape = {}
    for d = 0, r.ndim - 1 do shape[d + 1] = tonumber(r.shape[d]) end
    local name = ffi.string(r.name)
    shapes[name], names[#names + 1] = shape, name
  end
  return shapes, names, meta
end

-- What a checkpoint is, from its names: 'lightning' (the whole Prior module), 'image_encoder', 'image_encoder_prefixed',
-- 'resnet' (the three image-encoder layouts), 'ours' (this runtime's names), or nil.
function M.kind(shapes)
  if shapes['spb.prototypes'] then return 'ours' end
  if shapes['sentence_bank.embed.weight'] or shapes['text_encoder.encoder.embeddings.word_embeddings.weight'] then
    return 'lightning'
  end
  if shapes['encoder.conv1.weight'] then return 'image_encoder' end
  if shapes['image_encoder.encoder.conv1.weight'] then return 'image_encoder_prefixed' end
  if shapes['conv1.weight'] and shapes['layer1.0.conv1.weight'] then return 'resnet' end
  return nil
end

local function count_indices(names, pattern)
  local seen, n = {}, 0
  for _, name in ipairs(names) do
    local i = name:match(pattern)
    if i and not seen[i] then seen[i], n = true, n + 1 end
  end
  return n
end

local function need(shapes, name, path)
  local s = shapes[name]
  if not s then error(string.format("prior.models.prior.load: %s has no tensor '%s' to size the model by", path, name), 4) end
  return s
end

-- Model fields implied by the tensors' shapes. `resnet` is the prefix of the torchvision ResNet names in the file,
-- `pool` that of the image attention pool (nil when absent); text sizes only for whole models.
function M.sizes(shapes, names, kind, path)
  local m = {}
  local resnet = ({ lightning = 'image_encoder.encoder.', image_encoder = 'encoder.',
                    image_encoder_prefixed = 'image_encoder.encoder.', resnet = '' })[kind]
  local pool = ({ lightning = 'image_encoder.atten_pool.', image_encoder = 'atten_pool.',
                  image_encoder_prefixed = 'image_encoder.atten_pool.' })[kind]
  m.resnet_width = need(shapes, resnet .. 'conv1.weight', path)[1]
  m.resnet_blocks = {}
  for s = 1, 4 do
    m.resnet_blocks[s] = count_indices(names, '^' .. resnet:gsub('%.', '%%.') .. 'layer' .. s .. '%.(%d+)%.')
  end
  if pool and shapes[pool .. 'positional_embedding'] then
    local side = math.floor(math.sqrt(shapes[pool .. 'positional_embedding'][1] - 1) + 0.5)
    m.image_size = 32 * side
  end
  if kind == 'lightning' then
    local words = need(shapes, 'text_encoder.encoder.embeddings.word_embeddings.weight', path)
    m.vocab_size, m.hidden = words[1], words[2]
    m.max_positions = need(shapes, 'text_encoder.encoder.embeddings.position_embeddings.weight', path)[1]
    m.intermediate = need(shapes, 'text_encoder.encoder.encoder.layer.0.intermediate.dense.weight', path)[1]
    m.layers = count_indices(names, '^text_encoder%.encoder%.encoder%.layer%.(%d+)%.')
    m.decoder_layers = count_indices(names, '^sentence_decoder%.encoder%.layer%.(%d+)%.')
    m.num_queries = need(shapes, 'prototype_queries', path)[2]
    m.num_prototypes = need(shapes, 'sentence_bank.embed.weight', path)[1]
    if shapes['item_gather.attention_pool.query.weight'] then m.sentence_pool = 'attention' end
  end
  return m
end

-- prior_load_options fields (as PRIOR:load takes them) for a kind of file.
function M.load_options(kind)
  if kind == 'lightning' then
    return { drop_prefixes = table.concat(M.DROP, ','), rename = rules(M.RENAME), squeeze_leading_ones = true }
  elseif kind == 'image_encoder' then
    return { rename = rules({ { 'encoder.', 'image_encoder.encoder.' }, { 'atten_pool.', 'image_encoder.attnpool.' } }),
             only_prefixes = 'image_encoder.', sum_rgb_stem = true }
  elseif kind == 'image_encoder_prefixed' then
    return { rename = rules({ M.RENAME[1] }), only_prefixes = 'image_encoder.', sum_rgb_stem = true }
  elseif kind == 'resnet' then
    -- a classifier head has no counterpart; the attention pool is not in such a file and keeps its values
    return { add_prefix = 'image_encoder.encoder.', drop_prefixes = 'image_encoder.encoder.fc.',
             only_prefixes = 'image_encoder.encoder.', sum_rgb_stem = true }
  end
  error('prior.models.reference: no load options for ' .. tostring(kind), 2)
end

return M
