-- Figure 2: the SPB query distribution of synonymous sentences. Groups of sentences that say the same thing in
-- different words (the report generator's own phrasings, runtime/data/synth_report.c) are encoded one by one;
-- each row is the SPB query weights softmax(z E^T / tau) of a sentence vector z over the K prototypes E of the
-- sentence-wise prototype memory bank (without the Gumbel noise of training). A trained bank sends the members of
-- a group to the same prototypes.
local V = dofile((arg[0]:match('^(.*)/') or '.') .. '/common.lua')

local USAGE = [[
prior viz/fig2_spb_distribution.lua --ckpt PATH --data DIR --out DIR
  Heat strips of the SPB query distribution over the prototypes, one row per sentence, grouped by meaning.
  --tau T        query temperature (default: the preset's final one, as at the end of pre-training)
  --name NAME    output file name without extension (default fig2_spb_distribution)]]

local GROUPS = {
  {'no effusion', {'No pleural effusion.', 'There is no pleural effusion.', 'No pleural effusion is seen.',
                   'The costophrenic angles are sharp.'}},
  {'normal heart', {'Heart size is normal.', 'The cardiac silhouette is within normal limits.', 'Normal heart size.',
                    'The heart is not enlarged.'}},
  {'no pneumothorax', {'No pneumothorax.', 'There is no pneumothorax.', 'No pneumothorax is seen.'}},
  {'left effusion', {'There is a moderate left pleural effusion.', 'A moderate left pleural effusion is present.',
                     'Moderate left pleural effusion layers dependently.'}},
  {'cardiomegaly', {'There is mild cardiomegaly.', 'The cardiac silhouette is mildly enlarged.',
                    'The heart is mildly enlarged.'}},
}

local opts = V.args('fig2_spb_distribution', USAGE, {name = 'fig2_spb_distribution', tau = 0})
local ctx = V.setup(opts)
local tau = opts.tau > 0 and opts.tau or ctx.tau

local reports, labels, group_of = {}, {}, {}
for g, group in ipairs(GROUPS) do
  for _, s in ipairs(group[2]) do
    reports[#reports + 1] = {s}
    labels[#labels + 1] = s:sub(1, -2)
    group_of[#group_of + 1] = g
  end
end
local ids, mask, sidx = V.encode(ctx, reports)
local _, sents = ctx.model:encode_text(ids, mask, sidx, false) -- raw sentence vectors [S, 1, D]
local dist = ctx.model:spb_distribution(sents, tau):totable()  -- [S, 1, K]
local rows, top = {}, {}
for i = 1, #reports do
  rows[i] = dist[i][1]
  local best = 1
  for k = 2, #rows[i] do if rows[i][k] > rows[i][best] then best = k end end
  top[i] = best - 1
end
-- How many groups agree on their top prototype (every member the same argmax).
local agree = 0
for g = 1, #GROUPS do
  local first, same = nil, true
  for i = 1, #reports do
    if group_of[i] == g then
      first = first or top[i]
      same = same and top[i] == first
    end
  end
  if same then agree = agree + 1 end
end
for i = 1, #labels do labels[i] = string.format('%s  [%d]', labels[i], top[i]) end

-- Lines between the groups.
local commands = {'set lmargin 52'}
local r = 0
for g = 1, #GROUPS - 1 do
  r = r + #GROUPS[g][2]
  commands[#commands + 1] = string.format('set arrow from graph 0, first %g to graph 1, first %g nohead lc rgb "white" lw 2 front',
                                          r - 0.5, r - 0.5)
end
local k = #rows[1]
V.save(ctx, opts.name, nil, function(fig, file)
  fig:heatmap(rows, {file = file, size = {1200, 120 + 28 * #rows}, cmap = 'viridis', ylabels = labels,
                     xlabel = string.format('prototype (of %d)', k), cblabel = 'p(prototype | sentence)',
                     commands = commands,
                     title = string.format('SPB query distribution (tau %g) of synonymous sentences [top prototype]; %d of %d groups agree',
                                           tau, agree, #GROUPS)})
end)
