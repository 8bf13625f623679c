-- Figure 3: LAM attention maps. For each class of the CheXpert 5x200 selection, the prompt "<class> is observed"
-- attends to the image tokens of images of that class (text-to-image weights A1 of the local alignment module);
-- the h x w map (7 x 7 at 224 pixels) is upsampled and laid over the radiograph.
local V = dofile((arg[0]:match('^(.*)/') or '.') .. '/common.lua')
local prior = require 'prior'

local USAGE = [[
prior viz/fig3_attention.lua --ckpt PATH --data DIR --out DIR [--per-class N] [--cols N]
  LAM text-to-image attention of "X is observed" over images of class X, one row per class.
  --per-class N  images per class in the 5x200 selection of the CheXpert tree (default: that of the selection
                 file pretrain's evaluation wrote, else the preset's per_class)
  --cols N       images shown per class (default 3)
  --prompt FMT   the prompt template (default "%s is observed")
  --name NAME    output file name without extension (default fig3_attention)]]

local opts = V.args('fig3_attention', USAGE, {['per-class'] = 0, cols = 3, prompt = '%s is observed', name = 'fig3_attention'})
local ctx = V.setup(opts)
-- The selection's size: asked for, else that of the file already there (rows / 5), else the preset's.
local per_class = opts['per-class']
if per_class <= 0 then
  local rows = -1 -- the header
  local f = io.open(ctx.paths.chexpert .. '/chexpert_5x200.csv')
  if f then
    for _ in f:lines() do rows = rows + 1 end
    f:close()
  end
  per_class = rows > 0 and math.floor(rows / 5) or ctx.preset.data.per_class
end
local ds, classes, class_of = prior.data.chexpert5x200{root = ctx.paths.chexpert, per_class = per_class,
                                                       seed = ctx.preset.data.seed or 0}
local loader = V.loader(ctx, ds, false)

-- The first `cols` images of each class (in the selection's order shuffled by --seed).
local order = V.pick(ds:size(), ds:size(), opts.seed)
local chosen = {}
for c = 1, #classes do chosen[c] = {} end
for _, pos in ipairs(order) do
  local c = class_of[pos] + 1
  if #chosen[c] < opts.cols then table.insert(chosen[c], pos) end
end
local cols = 0
for c = 1, #classes do cols = math.max(cols, #chosen[c]) end
if cols == 0 then error('fig3_attention: the 5x200 selection of ' .. ctx.paths.chexpert .. ' is empty', 0) end

local side = math.floor(ctx.image_size / 32) -- the map is side x side (7 at 224 pixels, 2 at the tiny preset's 64)
local panels = {} -- panels[c][j] = {image rows, map rows, lo, hi}
for c, name in ipairs(classes) do
  panels[c] = {}
  if #chosen[c] > 0 then
    local batch = loader:make_batch(chosen[c])
    local reports = {}
    for j = 1, #chosen[c] do reports[j] = {string.format(opts.prompt, name)} end
    local ids, mask, sidx = V.encode(ctx, reports)
    local a1 = ctx.model:attention_maps(batch.images, ids, mask, sidx, true, ctx.tau):totable() -- [B, 1, N]
    local images = batch.images:totable()
    for j = 1, #chosen[c] do
      local w, map, lo, hi = a1[j][1], {}, math.huge, -math.huge
      for y = 1, side do
        map[y] = {}
        for x = 1, side do
          local v = w[(y - 1) * side + x]
          map[y][x] = v
          lo, hi = math.min(lo, v), math.max(hi, v)
        end
      end
      panels[c][j] = {images[j][1], map, lo, hi}
    end
  end
end

V.save(ctx, opts.name, nil, function(fig, file)
  fig:multiplot(#classes, cols, {file = file, size = {250 * cols, 250 * #classes},
                                 title = string.format('LAM attention of "%s" (%dx%d map; colour scaled per image)',
                                                       string.format(opts.prompt, 'X'), side, side)},
                function(f)
    for c, name in ipairs(classes) do
      for j = 1, cols do
        local p = panels[c][j]
        if p then
          f:image(p[1], {overlay = p[2], overlay_range = {p[3], p[4]}, alpha = 0.45, cmap = 'jet',
                         title = string.format('%s  (A %.3f-%.3f)', name, p[3], p[4])})
        else
          f:raw({'reset', 'unset border', 'unset tics', 'set key off', 'plot [0:1] [0:1] NaN notitle'})
        end
      end
    end
  end)
end)
loader:free()
