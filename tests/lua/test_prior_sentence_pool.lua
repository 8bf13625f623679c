-- The PRIOR model from Lua with sentence_pool = 'attention': it builds from the tiny preset with the override, has
-- the pool's parameters (and only then), and a training step runs forward, backward and an optimizer step that
-- moves them. The batch is made here (no data set): 2 reports of 3 and 2 sentences, one sentence number left empty.
local prior = require 'prior'
local PRIOR = require 'prior.models.prior'
local t = require 'prior.testing'

local NAMES = { 'text_encoder.sentence_gather.query.weight', 'text_encoder.sentence_gather.query.bias',
                'text_encoder.sentence_gather.key.weight', 'text_encoder.sentence_gather.key.bias' }

local make_batch = dofile('tests/lua/helpers/prior_batch.lua')

t.test('the attention pool builds, steps and trains its parameters', function()
  prior.seed(1)
  local model = PRIOR{ preset = 'tiny', vocab_size = 50, sentence_pool = 'attention' }
  local hidden = model.config.hidden
  for _, name in ipairs(NAMES) do t.truthy(model.tensors[name] ~= nil, name .. ' is a parameter') end
  local q = model.tensors[NAMES[1]]
  t.eq(q.shape[1], hidden / 8)
  t.eq(q.shape[2], hidden)
  local before = q:clone()

  local batch = make_batch(model.config.image_size)
  local opt = prior.optim.Adam(model:parameters(), { lr = 1e-2 })
  local losses = model:step(batch, 1, 0.9)
  local total = losses.total:item()
  t.truthy(total == total and math.abs(total) < math.huge, 'a finite loss, got ' .. tostring(total))
  losses.total:backward()
  for _, name in ipairs(NAMES) do
    local g = model.tensors[name].grad
    t.truthy(g ~= nil, name .. ' has a gradient')
    -- the query bias shifts every token's logit of a sentence equally: its gradient is zero by construction
    if g and name ~= NAMES[2] then t.truthy(g:abs():sum():item() > 0, name .. ' gradient is not zero') end
  end
  opt:step()
  t.truthy((q - before):abs():max():item() > 0, 'the optimizer step moved the query weights')

  local _, sents, smask = model:encode_text(batch.input_ids, batch.attention_mask, batch.sentence_index)
  t.eq(sents.shape[2], 3)
  t.all_near(smask, prior.tensor({ { 1, 1, 1 }, { 1, 0, 1 } }), 0)
end)

t.test('the other pools have no pool parameters; unknown pools are refused', function()
  for _, pool in ipairs({ 'avg', 'max', 'min' }) do
    local model = PRIOR{ preset = 'tiny', vocab_size = 50, sentence_pool = pool }
    t.truthy(model.tensors[NAMES[1]] == nil, pool .. ' has no query weights')
  end
  t.raises(function() PRIOR{ preset = 'tiny', vocab_size = 50, sentence_pool = 'mean' } end,
           "sentence_pool = 'mean' is not one of the choices")
end)

t.run()
