-- Figure 4: the CCR image decoder's reconstructions beside the originals. Each image is rebuilt from its own
-- image tokens and the LAM context of its report (eval mode: no channel dropout), as in stage 3 of pre-training.
local V = dofile((arg[0]:match('^(.*)/') or '.') .. '/common.lua')
local prior = require 'prior'

local USAGE = [[
prior viz/fig4_reconstruction.lua --ckpt PATH --data DIR --out DIR [--count N] [--split NAME]
  CCR reconstructions (bottom row) beside the original radiographs (top row) of N reports of the MIMIC tree.
  --count N      how many image-report pairs (default 6)
  --split NAME   train | validate | test (default test)
  --name NAME    output file name without extension (default fig4_reconstruction)]]

local opts = V.args('fig4_reconstruction', USAGE, {count = 6, split = 'test', name = 'fig4_reconstruction'})
local ctx = V.setup(opts)
local ds = prior.data.mimic{root = ctx.paths.mimic, split = opts.split}
if ds:size() == 0 then error('fig4_reconstruction: the ' .. opts.split .. ' split of ' .. ctx.paths.mimic .. ' is empty', 0) end
local positions = V.pick(ds:size(), opts.count, opts.seed)
local n = #positions
local loader = V.loader(ctx, ds, true)
local batch = loader:make_batch(positions)
local rec = ctx.model:reconstruct(batch.images, batch.input_ids, batch.attention_mask, batch.sentence_index, true, ctx.tau)

local originals, recs, errors = {}, {}, {}
local all_o, all_r = batch.images:totable(), rec:totable()
for b = 1, n do
  originals[b], recs[b] = all_o[b][1], all_r[b][1]
  local total, count = 0, 0
  for y = 1, #originals[b] do
    for x = 1, #originals[b][y] do
      total, count = total + math.abs(originals[b][y][x] - recs[b][y][x]), count + 1
    end
  end
  errors[b] = total / count
end
-- One intensity range for both rows, so a washed-out reconstruction looks washed out.
local lo, hi = math.huge, -math.huge
for b = 1, n do
  for _, row in ipairs(originals[b]) do for _, v in ipairs(row) do lo, hi = math.min(lo, v), math.max(hi, v) end end
end

V.save(ctx, opts.name, nil, function(fig, file)
  fig:multiplot(2, n, {file = file, size = {220 * n, 500},
                       title = 'CCR reconstructions (bottom) of the originals (top); z-scored intensities, one range'},
                function(f)
    for b = 1, n do f:image(originals[b], {range = {lo, hi}, title = ds:sample(positions[b]).id}) end
    for b = 1, n do f:image(recs[b], {range = {lo, hi}, title = string.format('L1 error %.3f', errors[b])}) end
  end)
end)
loader:free()
