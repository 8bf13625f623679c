-- A loader-like PRIOR batch made without a data set, for the model tests: 2 reports of 3 and 2 sentences (one
-- sentence number left empty), random images. Returns the tensors and batch.c, the C prior_batch that points at
-- them (the table keeps them alive).
--   local make_batch = dofile('tests/lua/helpers/prior_batch.lua')
--   local batch = make_batch(model.config.image_size); model:step(batch, stage, tau)
local ffi = require 'ffi'
local prior = require 'prior'

return function(image_size)
  local sidx = { { -1, 1, 1, 1, 2, 2, 3, 3, 3, -1, -1, -1 }, { -1, 1, 1, 3, 3, 3, 3, -1, -1, -1, -1, -1 } }
  local ids, mask = {}, {}
  for b = 1, 2 do
    ids[b], mask[b] = {}, {}
    for l = 1, #sidx[b] do
      local real = sidx[b][l] > 0 or l == 1 or sidx[b][l - 1] > 0 -- [CLS], the tokens and [SEP]
      ids[b][l], mask[b][l] = real and (5 + (b * 7 + l * 3) % 40) or 0, real and 1 or 0
    end
  end
  local batch = { images = prior.randn({ 2, 1, image_size, image_size }), input_ids = prior.tensor(ids, { dtype = 'i64' }),
                  attention_mask = prior.tensor(mask, { dtype = 'i64' }),
                  sentence_index = prior.tensor(sidx, { dtype = 'i64' }), size = 2 }
  batch.c = ffi.new('prior_batch', { size = 2, images = batch.images.h, input_ids = batch.input_ids.h,
                                     attention_mask = batch.attention_mask.h, sentence_index = batch.sentence_index.h })
  return batch
end
