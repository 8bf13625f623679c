-- Loading the PRIOR authors' checkpoints: tiny stand-ins with the reference's names and layouts
-- (tests/fixtures/refckpt/make_refckpt.py), their values, the switches, and forwards against the reference's math.
local T = require 'prior.testing'
local ffi = require 'ffi'
local prior = require 'prior'
local capi = require 'prior.capi'
local PRIOR = require 'prior.models.prior'
local ref = require 'prior.models.reference'
local plot = require 'prior.plot'
local C = capi.C

-- PRIOR_REFCKPT_DIR runs the same checks on a fixture made with other sizes (REFCKPT_OUT=DIR make_refckpt.py)
local DIR = os.getenv('PRIOR_REFCKPT_DIR') or 'tests/fixtures/refckpt/'
local CKPT = DIR .. 'prior_lightning.ckpt'
local expected = plot.read_jsonl(DIR .. 'expected.json')[1]
local sizes = expected.sizes

-- What the file does not say: BERT's head count (the reference's is 12 at width 768).
local model, report = PRIOR.load(CKPT, { heads = sizes.heads })

-- The image both sides build: sin(0.05 * (64 y + x) + 0.7 b).
local function test_images(b)
  local s, rows = sizes.image_size, {}
  for i = 0, b - 1 do
    local img = {}
    for y = 0, s - 1 do
      local row = {}
      for x = 0, s - 1 do row[x + 1] = math.sin(0.05 * (s * y + x) + 0.7 * i) end
      img[y + 1] = row
    end
    rows[i + 1] = { img }
  end
  return prior.tensor(rows)
end

local function numbers(t)
  local flat = t:contiguous():reshape({ -1 }):double():totable()
  local sum = 0
  for _, v in ipairs(flat) do sum = sum + v end
  return flat, sum
end

-- The fixture's report through a model's text path (through the SPB at tau when use_spb): global, sentences,
-- sentence mask.
local function encode_fixture_text(model, tx, use_spb, tau)
  local ids, mask, sidx = prior.tensor(tx.ids, { dtype = 'i64' }), prior.tensor(tx.mask, { dtype = 'i64' }),
                          prior.tensor(tx.sentence_index, { dtype = 'i64' })
  return model:encode_text(ids, mask, sidx, use_spb or false, tau)
end

T.test('a Lightning checkpoint loads strictly, every tensor mapped', function()
  T.eq(report.kind, 'lightning')
  T.eq(report.missing, 0, 'missing')
  T.eq(report.unexpected, 0, 'unexpected')
  T.eq(report.mismatched, 0, 'mismatched')
  T.eq(report.loaded, #model.names, 'every parameter and buffer loaded')
  -- dropped by name: global_text_projection.weight/bias and the two position_ids buffers
  T.eq(expected.n_state_dict - 4, #model.names, 'their entries less the four dropped ones')
end)

T.test('named tensors hold the fixture values', function()
  for _, c in ipairs(expected.checks) do
    local ours = ref.our_name(c.name)
    local t = model.tensors[ours]
    T.truthy(t, c.name .. ' -> ' .. tostring(ours) .. ' exists')
    local flat, sum = numbers(t)
    local numel = 1
    for _, v in ipairs(c.shape) do numel = numel * v end
    T.eq(#flat, numel, c.name .. ' element count')
    T.near(sum, c.sum, 1e-4 * math.max(1, math.abs(c.sum)), c.name .. ' sum')
    for i, v in ipairs(c.first) do T.near(flat[i], v, 1e-6, c.name .. ' value ' .. i) end
  end
  -- [1, Q, D] in their file, [Q, D] here
  T.eq(model.tensors['ccr_text.queries']:dim(), 2)
  T.eq(ref.their_name('lam.text_to_image.query.weight'), 'local_cross_attention.query2.weight')
  T.eq(ref.their_name('ccr_image.blocks.3.bn2.running_mean'), 'image_decoder.blocks.3.conv2.1.running_mean')
end)

T.test('sizes come from the tensors and the reference switches are set', function()
  local cfg = model.config
  for _, k in ipairs({ 'image_size', 'hidden', 'layers', 'intermediate', 'vocab_size', 'max_positions',
                       'decoder_layers', 'num_queries', 'num_prototypes' }) do
    T.eq(cfg[k], sizes[k], k)
  end
  T.eq(cfg.resnet_width, sizes.resnet_width, 'resnet_width')
  T.eq(table.concat(cfg.resnet_blocks, ','), table.concat(sizes.resnet_blocks, ','))
  T.eq(cfg.pool_heads, 8)
  local c = C.prior_model_get_config(model.c) -- what the C model was built with
  T.eq(c.decoder_causal, 1, 'decoder_causal')
  T.eq(c.decoder_embeddings, 1, 'decoder_embeddings')
  T.eq(c.ccr_conv_bias, 0, 'ccr_conv_bias')
  T.eq(c.local_tokens_reference, 1, 'local_tokens_reference')
  T.eq(c.spb_l1_normalize, 0, 'spb_l1_normalize')
  T.eq(tonumber(c.decoder_layers), sizes.decoder_layers)
  local st = model.settings
  T.eq(st.train.tau_schedule, 'fixed')
  T.eq(st.train.tau_start, 0.9)
  T.eq(st.eval.local_weight, 0.5)
  T.eq(st.eval.tau, 0.9)
  T.eq(st.eval.use_spb, true)
  T.eq(st.data.mean, 0.5063)
  T.eq(st.data.std, 0.2895)
end)

local images = test_images(2)

T.test('encode_image matches the reference image path', function()
  local g, l = model:encode_image(images)
  T.all_near(g, expected.image_global, 1e-4, 'global')
  T.all_near(l, expected.image_local, 1e-4, 'local tokens (the reference .view of NCHW)')
end)

T.test('encode_text matches the reference text path', function()
  local tx = expected.text
  local g, sents, smask = encode_fixture_text(model, tx)
  T.all_near(g, tx.global, 1e-4, 'global text')
  T.all_near(sents[1], tx.sentences, 1e-4, 'sentence vectors')
  T.all_near(smask, { { 1, 1, 1 } }, 0)
  -- through the SPB at the reference's temperature (no noise here): runs, same shape
  local g2 = encode_fixture_text(model, tx, true, model.settings.eval.tau)
  T.eq(g2:size(2), sizes.hidden)
end)

-- The same run trained with the gather pool 'attention' (item_gather.attention_pool in their file).
local ATT = DIR .. 'prior_lightning_attention.ckpt'
local expected_att = plot.read_jsonl(DIR .. 'expected_attention.json')[1]

T.test('a checkpoint with their attention gather pool loads strictly into the attention pool', function()
  local m, rep = PRIOR.load(ATT, { heads = sizes.heads })
  T.eq(rep.kind, 'lightning')
  T.eq(rep.missing, 0, 'missing')
  T.eq(rep.unexpected, 0, 'unexpected')
  T.eq(rep.mismatched, 0, 'mismatched')
  T.eq(rep.loaded, #m.names, 'every parameter and buffer loaded')
  T.eq(expected_att.n_state_dict - 4, #m.names, 'their entries less the four dropped ones')
  T.eq(#m.names, #model.names + 4, 'the avg model plus query and key weight and bias')
  T.eq(m.config.sentence_pool, 'attention')
  T.eq(C.prior_model_get_config(m.c).sentence_pool, C.PRIOR_SENTENCE_ATTENTION, 'the C model gathers by attention')
  T.eq(model.config.sentence_pool, 'avg', 'a file without the pool keeps the average')
  for _, c in ipairs(expected_att.checks) do
    local ours = ref.our_name(c.name)
    T.eq(ours, 'text_encoder.sentence_gather.' .. c.name:sub(#'item_gather.attention_pool.' + 1))
    T.eq(ref.their_name(ours), c.name)
    local t = m.tensors[ours]
    T.truthy(t, c.name .. ' -> ' .. ours .. ' exists')
    T.eq(table.concat(t.shape, ','), table.concat(c.shape, ','), c.name .. ' shape')
    local flat, sum = numbers(t)
    T.near(sum, c.sum, 1e-5 * math.max(1, math.abs(c.sum)), c.name .. ' sum')
    for i, v in ipairs(c.first) do T.near(flat[i], v, 1e-6, c.name .. ' value ' .. i) end
  end
  -- the tensors the two files share hold the same values
  local a, b = numbers(m.tensors['local_text_projection.weight']), numbers(model.tensors['local_text_projection.weight'])
  T.all_near(a, b, 0)

  local tx = expected_att.text
  local g, sents, smask = encode_fixture_text(m, tx)
  T.all_near(g, tx.global, 1e-4, 'global text (attention gather, then the sentence attention pool)')
  T.all_near(sents[1], tx.sentences, 1e-4, 'sentence vectors (attention gather of the projected tokens)')
  T.all_near(smask, { { 1, 1, 1 } }, 0)
  -- the pool matters: the fixture's attention sentences are far from the average ones
  T.truthy(expected_att.max_diff_from_avg > 0.1, 'attention and average gathers differ in the fixture')
end)

T.test('the sentence decoder matches the reference (embeddings, causal self-attention)', function()
  local pred = model:predict_prototypes(images)
  T.all_near(pred, expected.decoder, 1e-4, 'predicted prototypes')
  -- without the causal mask the reference gives other values: the switch matters
  local a, b = numbers(pred), numbers(prior.tensor(expected.decoder_not_causal))
  local diff = 0
  for i = 1, #a do diff = math.max(diff, math.abs(a[i] - b[i])) end
  T.truthy(diff > 1e-3, 'causal and non-causal outputs differ (max ' .. diff .. ')')
end)

-- image-encoder-only files: the text side is not in them, so its sizes are given
local TEXT = { heads = sizes.heads, hidden = sizes.hidden, layers = 1, intermediate = 32, vocab_size = 50,
               max_positions = 40, num_queries = 4, num_prototypes = 8, decoder_layers = 1 }

T.test('the image-encoder-only file (image_encoder.state_dict()) loads into the image encoder', function()
  local m, rep = PRIOR.load(DIR .. 'image_encoder.pt', TEXT)
  T.eq(rep.kind, 'image_encoder')
  T.eq(rep.missing + rep.unexpected + rep.mismatched, 0)
  local n = 0
  for _, name in ipairs(m.names) do
    if name:sub(1, 14) == 'image_encoder.' then
      n = n + 1
      local a, b = numbers(m.tensors[name]), numbers(model.tensors[name])
      T.all_near(a, b, 0, name)
    end
  end
  T.eq(rep.loaded, n, 'every image encoder entry, nothing else')
  T.eq(m.config.image_size, sizes.image_size)
  T.eq(C.prior_model_get_config(m.c).local_tokens_reference, 1)
end)

T.test('a bare torchvision ResNet with an RGB stem and an fc head loads into the ResNet', function()
  local m, rep = PRIOR.load(DIR .. 'resnet_rgb.pt', (function()
    local o = { image_size = sizes.image_size }
    for k, v in pairs(TEXT) do o[k] = v end
    return o
  end)())
  T.eq(rep.kind, 'resnet')
  T.eq(rep.missing + rep.unexpected + rep.mismatched, 0)
  local flat, sum = numbers(m.tensors['image_encoder.encoder.conv1.weight'])
  T.eq(m.tensors['image_encoder.encoder.conv1.weight']:size(2), 1)
  T.near(sum, expected.rgb_stem_sum, 1e-5, 'the stem is the channel sum')
  for i, v in ipairs(expected.rgb_stem_first) do T.near(flat[i], v, 1e-6) end
  local n = 0
  for _, name in ipairs(m.names) do if name:sub(1, 22) == 'image_encoder.encoder.' then n = n + 1 end end
  T.eq(rep.loaded, n, 'the ResNet only (fc dropped, attention pool not in the file)')
end)

-- A safetensors copy of the Lightning fixture's tensors (reference names) with one change.
local function write_variant(path, edit)
  local tf = ffi.new('prior_torchfile*[1]')
  capi.status(C.prior_torchfile_open(CKPT, nil, tf))
  local h = ffi.gc(tf[0], C.prior_torchfile_close)
  local n = tonumber(C.prior_torchfile_count(h))
  local recs, out, k = C.prior_torchfile_tensors(h), ffi.new('prior_ckpt_tensor[?]', n), 0
  for i = 0, n - 1 do
    local r = ffi.new('prior_ckpt_tensor', recs[i])
    if edit(ffi.string(r.name), r) then
      out[k] = r
      k = k + 1
    end
  end
  capi.status(C.prior_safetensors_write(path, out, k, nil, nil, 0))
  return h
end

T.test('broken checkpoints: a missing tensor and a wrong shape are named', function()
  local path = os.tmpname()
  T.finally(function() os.remove(path) end)
  local keep = write_variant(path, function(name) return name ~= 'local_cross_attention.key1.weight' end)
  local err = T.raises(function() PRIOR.load(path, { heads = sizes.heads }) end, 'missing')
  T.truthy(tostring(err):find('lam.text_to_image.key.weight = local_cross_attention.key1.weight', 1, true), err)
  print('      ' .. tostring(err))
  -- a tensor the sizes are read from
  keep = write_variant(path, function(name) return name ~= 'sentence_bank.embed.weight' end)
  T.raises(function() PRIOR.load(path, { heads = sizes.heads }) end, "no tensor 'sentence_bank.embed.weight'")
  keep = write_variant(path, function(name, r)
    if name == 'local_text_projection.weight' then -- same bytes, [D, D] seen as [D / 2, 2 D]
      r.shape[0], r.shape[1] = r.shape[0] / 2, r.shape[1] * 2
    end
    return true
  end)
  err = T.raises(function() PRIOR.load(path, { heads = sizes.heads }) end, 'local_text_projection.weight')
  T.truthy(tostring(err):find('local_text_projection.weight model [16, 16] checkpoint [8, 32]', 1, true), err)
  print('      ' .. tostring(err))
  T.raises(function() PRIOR.load(DIR .. 'expected.json') end, 'not a PyTorch checkpoint') -- not a checkpoint at all
  T.raises(function() PRIOR.load(CKPT) end, 'pass opts.heads')
  T.truthy(keep)
end)

T.test('eval.load_model takes the reference settings into the configuration and scores run', function()
  local eval = require 'prior.eval'
  local cfg = { data = { image_size = 224 }, eval = { local_weight = 0, tau = 0.01 } }
  local m = eval.load_model(CKPT, cfg, sizes.vocab_size, { heads = sizes.heads })
  T.eq(cfg.data.image_size, sizes.image_size)
  T.eq(cfg.data.mean, 0.5063)
  T.eq(cfg.data.std, 0.2895)
  T.eq(cfg.eval.local_weight, 0.5)
  T.eq(cfg.eval.tau, 0.9)
  T.raises(function() eval.load_model(CKPT, cfg, 7, { heads = sizes.heads }) end, 'the vocabulary has 7 tokens')
  local tx = expected.text
  local ig, il = m:encode_image(images)
  local tg, ts, tm = m:encode_text(prior.tensor(tx.ids, { dtype = 'i64' }), prior.tensor(tx.mask, { dtype = 'i64' }),
                                   prior.tensor(tx.sentence_index, { dtype = 'i64' }), cfg.eval.use_spb, cfg.eval.tau)
  local s = eval.scores(m, ig, il, tg, ts, tm, cfg.eval.local_weight)
  T.eq(s:size(1), 2)
  T.near(s:sum():item(), 2 * 1.5, 1e-5, 'one text: each row is 1 + 0.5')
end)

T.test('our own checkpoints load through the same function', function()
  local path = os.tmpname()
  T.finally(function() os.remove(path) end)
  local a = PRIOR{ preset = 'tiny', vocab_size = 30 }
  a:save(path, { preset = 'tiny' })
  local b, rep = PRIOR.load(path)
  T.eq(rep.kind, 'ours')
  T.eq(rep.loaded, #a.names)
  local x, y = numbers(a.tensors['spb.prototypes']), numbers(b.tensors['spb.prototypes'])
  T.all_near(x, y, 0)
end)

T.run()
