-- Figure 1: t-SNE of sentence embeddings without and with the sentence-wise prototype memory bank. Distinct
-- sentences of the MIMIC tree's reports are encoded one by one; the left panel embeds the raw sentence vectors,
-- the right one the same sentences after the SPB query (the representation stages 2-3 align). Each point is
-- coloured by the finding its sentence talks about.
local V = dofile((arg[0]:match('^(.*)/') or '.') .. '/common.lua')
local ffi = require 'ffi'
local prior = require 'prior'
local capi = require 'prior.capi'
local C = capi.C

local USAGE = [[
prior viz/fig1_tsne.lua --ckpt PATH --data DIR --out DIR [--count N] [--perplexity P] [--iters N]
  Two t-SNE panels of N distinct report sentences: raw sentence vectors, and after the SPB.
  --count N       sentences (default 1000; fewer when the reports hold fewer distinct ones)
  --split NAME    train | validate | test (default train)
  --perplexity P  t-SNE perplexity (default 30; capped for small N)
  --iters N       t-SNE iterations (default 1000)
  --name NAME     output file name without extension (default fig1_tsne)]]

local opts = V.args('fig1_tsne', USAGE, {count = 1000, split = 'train', perplexity = 30, iters = 1000, name = 'fig1_tsne'})
local ctx = V.setup(opts)
local ds = prior.data.mimic{root = ctx.paths.mimic, split = opts.split}

-- The finding a sentence is about, from its words (first match wins: specific findings before generic ones).
local TOPICS = {
  {'pleural effusion', {'effusion', 'costophrenic'}},
  {'pneumothorax', {'pneumothora'}},
  {'edema', {'edema', 'congestion'}},
  {'consolidation / pneumonia', {'consolidation', 'pneumonia'}},
  {'atelectasis', {'atelectasis', 'volume loss'}},
  {'heart size', {'heart', 'cardiac', 'cardiomegaly'}},
  {'nodule / opacity', {'nodule', 'mass', 'opacit', 'lesion'}},
  {'mediastinum / bones / pleura', {'mediastin', 'fracture', 'osseous', 'pleural thickening'}},
}
local function topic(s)
  local low = s:lower()
  for _, t in ipairs(TOPICS) do
    for _, w in ipairs(t[2]) do
      if low:find(w, 1, true) then return t[1] end
    end
  end
  return 'other (devices, view, comparison)'
end

local sentences, classes, seen = {}, {}, {}
for _, i in ipairs(V.pick(ds:size(), ds:size(), opts.seed)) do
  for _, s in ipairs(ds:sample(i).sentences) do
    if not seen[s] and #sentences < opts.count then
      seen[s] = true
      sentences[#sentences + 1] = s
      classes[#classes + 1] = topic(s)
    end
  end
  if #sentences >= opts.count then break end
end
local n = #sentences
if n < 10 then error(string.format('fig1_tsne: only %d distinct sentences in %s', n, ctx.paths.mimic), 0) end

-- Sentence vectors [n, D] without and with the SPB, as flat float64 arrays for t-SNE.
local function embed(use_spb)
  local rows = {}
  for first = 1, n, 128 do
    local chunk = {}
    for i = first, math.min(first + 127, n) do chunk[#chunk + 1] = {sentences[i]} end
    local ids, mask, sidx = V.encode(ctx, chunk)
    local _, sents = ctx.model:encode_text(ids, mask, sidx, use_spb, ctx.tau)
    for _, r in ipairs(sents:totable()) do rows[#rows + 1] = r[1] end
  end
  return rows
end

-- t-SNE through the C API (prior/tsne.h): rows [n][d] -> points [n][2].
local function tsne(rows)
  local d = #rows[1]
  local x = ffi.new('double[?]', n * d)
  for i = 1, n do for j = 1, d do x[(i - 1) * d + j - 1] = rows[i][j] end end
  local o = ffi.new('prior_tsne_options')
  C.prior_tsne_options_default(o)
  o.perplexity = math.min(opts.perplexity, (n - 1) / 3)
  o.n_iter = opts.iters
  o.seed = opts.seed
  local y = ffi.new('double[?]', n * 2)
  capi.status(C.prior_tsne_f64(x, n, d, o, y, nil))
  local out = {}
  for i = 1, n do out[i] = {y[2 * (i - 1)], y[2 * (i - 1) + 1]} end
  return out
end

local raw, spb = tsne(embed(false)), tsne(embed(true))
V.save(ctx, opts.name, nil, function(fig, file)
  fig:multiplot(1, 2, {file = file, size = {1500, 680},
                       title = string.format('t-SNE of %d report sentences, coloured by finding', n)},
                function(f)
    f:scatter(raw, {classes = classes, title = 'without SPB (raw sentence vectors)', key = false})
    f:scatter(spb, {classes = classes, title = 'with SPB (after the prototype query)', key = 'outside right top'})
  end)
end)
