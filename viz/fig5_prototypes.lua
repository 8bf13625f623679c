-- Figure 5: a report's prototype distribution against the one the CCR text decoder predicts from the image alone.
-- Report side: each real sentence vector z of the report, softmax(z E^T / tau) over the K prototypes E of the SPB.
-- Predicted side: the Q prototype predictions p of the CCR text decoder, softmax(p E^T / tau) (stage 3 pulls the
-- two together with its KL term, at tau = 1). Shown with the radiograph and the report text.
local V = dofile((arg[0]:match('^(.*)/') or '.') .. '/common.lua')
local prior = require 'prior'
local gnuplot = require 'prior.gnuplot'

local USAGE = [[
prior viz/fig5_prototypes.lua --ckpt PATH --data DIR --out DIR [--split NAME] [--index N]
  One report of the MIMIC tree: image, text, the SPB distribution of its sentences and of the CCR predictions.
  --split NAME   train | validate | test (default test)
  --index N      the report's position in the split (default: drawn from --seed)
  --top N        prototypes in the bar panel (default 10)
  --tau T        temperature of the distributions (default 1, as the KL term of stage 3; the preset's final
                 query temperature shows the SPB's hard choices)
  --name NAME    output file name without extension (default fig5_prototypes)]]

local opts = V.args('fig5_prototypes', USAGE, {split = 'test', index = 0, top = 10, tau = 1, name = 'fig5_prototypes'})
local ctx = V.setup(opts)
local ds = prior.data.mimic{root = ctx.paths.mimic, split = opts.split}
if ds:size() == 0 then error('fig5_prototypes: the ' .. opts.split .. ' split of ' .. ctx.paths.mimic .. ' is empty', 0) end
local pos = opts.index > 0 and opts.index or V.pick(ds:size(), 1, opts.seed)[1]
if pos > ds:size() then error(string.format('fig5_prototypes: --index %d, the split has %d reports', pos, ds:size()), 0) end
local sample = ds:sample(pos)
local loader = V.loader(ctx, ds, false)
local batch = loader:make_batch({pos})

local ids, mask, sidx = V.encode(ctx, {sample.sentences})
local _, raw, smask = ctx.model:encode_text(ids, mask, sidx, false)
local report = ctx.model:spb_distribution(raw, opts.tau):totable()[1]                                   -- [M, K]
local pred = ctx.model:spb_distribution(ctx.model:predict_prototypes(batch.images), opts.tau):totable()[1] -- [Q, K]
local real = smask:totable()[1]
local report_rows = {}
for m = 1, #report do if real[m] > 0 then report_rows[#report_rows + 1] = report[m] end end
local k = #report[1]

-- Averages over the report's sentences and over the predictions.
local function mean_rows(rows)
  local out = {}
  for j = 1, k do
    local s = 0
    for _, r in ipairs(rows) do s = s + r[j] end
    out[j] = s / #rows
  end
  return out
end
local report_mean, pred_mean = mean_rows(report_rows), mean_rows(pred)
local kl = 0
for j = 1, k do kl = kl + report_mean[j] * math.log(report_mean[j] / pred_mean[j]) end
local order = {}
for j = 1, k do order[j] = j end
table.sort(order, function(a, b) return report_mean[a] > report_mean[b] end)
local top_labels, top_report, top_pred = {}, {}, {}
for i = 1, math.min(opts.top, k) do
  local j = order[i]
  top_labels[i], top_report[i], top_pred[i] = tostring(j - 1), report_mean[j], pred_mean[j]
end

-- The report as numbered, wrapped lines.
local text = {}
for i, s in ipairs(sample.sentences) do
  for n, line in ipairs(V.wrap(s, 58)) do text[#text + 1] = (n == 1 and string.format('%d. ', i) or '    ') .. line end
end
local image = batch.images:totable()[1][1]
local sent_labels = {}
for i = 1, #report_rows do sent_labels[i] = 'sentence ' .. i end
local q_labels = {}
for i = 1, #pred do q_labels[i] = 'query ' .. i end

V.save(ctx, opts.name, nil, function(fig, file)
  fig:multiplot(3, 2, {file = file, size = {1300, 1150},
                       title = string.format('Report %s: prototype distribution (tau %g) of the report vs the CCR prediction from the image',
                                             sample.id, opts.tau)},
                function(f)
    f:image(image, {title = 'image'})
    local cmds = {'reset', 'unset border', 'unset tics', 'unset key', 'set title "report"'}
    for i, line in ipairs(text) do
      if i > 16 then break end
      cmds[#cmds + 1] = string.format('set label %d %s at graph 0, graph %g left font ",11"', i, gnuplot.quote(line),
                                      1 - i * 0.06)
    end
    cmds[#cmds + 1] = 'plot [0:1] [0:1] NaN notitle'
    f:raw(cmds)
    f:heatmap(report_rows, {title = 'report sentences: softmax(z E^T / tau)', cmap = 'viridis', ylabels = sent_labels,
                            xlabel = 'prototype'})
    f:heatmap(pred, {title = 'CCR predictions: softmax(p E^T / tau)', cmap = 'viridis', ylabels = q_labels, xlabel = 'prototype'})
    local xs = {}
    for j = 1, k do xs[j] = j - 1 end
    f:lines({{x = xs, y = report_mean, title = 'report (mean over sentences)'},
             {x = xs, y = pred_mean, title = 'predicted (mean over queries)'}},
            {title = string.format('mean distributions; KL(report || predicted) = %.4f', kl), xlabel = 'prototype',
             ylabel = 'probability', xrange = {0, k - 1}})
    f:bars({{values = top_report, title = 'report'}, {values = top_pred, title = 'predicted'}},
           {labels = top_labels, title = string.format('the report\'s top %d prototypes', #top_labels),
            xlabel = 'prototype', ylabel = 'probability', yrange = {0, 1.35 * math.max(top_report[1], unpack(top_pred))}})
  end)
end)
loader:free()
