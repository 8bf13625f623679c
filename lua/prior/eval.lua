-- Zero-shot classification and image-to-text retrieval with a PRIOR model (MODEL.md: prompts "X is observed"
-- through the text path and the SPB; score = softmax over classes of the global similarity + a weighted softmax of
-- the local (LAM) similarity). Metrics are computed in C (prior/metrics.h).
local ffi = require 'ffi'
local prior = require 'prior'
local capi = require 'prior.capi'
local C = capi.C

local M = {}

M.CLASSES = { 'Atelectasis', 'Cardiomegaly', 'Consolidation', 'Edema', 'Pleural Effusion' }

-- Encodes every image a loader yields (one epoch, in order): global [N, D], local [N, T, D], and the dataset
-- positions of the rows (1-based, as class_of is indexed).
function M.encode_images(model, loader)
  local globals, locals, indices = {}, {}, {}
  for batch in loader:epoch(1) do
    local g, l = model:encode_image(batch.images)
    globals[#globals + 1], locals[#locals + 1] = g, l
    for _, v in ipairs(batch.sample_indices:totable()) do indices[#indices + 1] = v + 1 end -- 0-based in the batch
  end
  return prior.cat(globals, 1), prior.cat(locals, 1), indices
end

-- Texts (a list of sentence lists) -> global [P, D], sentences [P, M, D] through the SPB, mask [P, M].
function M.encode_texts(model, tok, texts, length)
  local ids, mask, sidx = tok:encode_reports(texts, { length = length }) -- [P, length] i64 each
  return model:encode_text(ids, mask, sidx, true, 0.01)
end

local function softmax_rows(x) return prior.softmax(x, 2) end

-- Scores [N, P]: softmax over texts of the scaled global cosine similarity, plus local_weight times the softmax of
-- the scaled LAM similarity.
function M.scores(model, img_global, img_local, txt_global, txt_sents, txt_mask, local_weight)
  return prior.no_grad(function()
    local scale = model.tensors.logit_scale:exp()
    local g = prior.normalize(img_global, { dim = 2 }):matmul(prior.normalize(txt_global, { dim = 2 }):t()) * scale
    local s = softmax_rows(g)
    if local_weight and local_weight > 0 then
      local l = model:local_scores(img_local, txt_sents, txt_mask) * model.tensors.local_logit_scale:exp()
      s = s + softmax_rows(l) * local_weight
    end
    return s
  end)
end

local function int64_array(list)
  local a = ffi.new('int64_t[?]', #list)
  for i, v in ipairs(list) do a[i - 1] = v end
  return a
end

-- Accuracy, macro precision/recall/F1, Cohen's kappa and the confusion matrix of predictions against truth
-- (0-based class lists).
function M.classification_metrics(truth, pred, n_classes)
  local out = ffi.new('prior_classification_metrics')
  local cm = ffi.new('int64_t[?]', n_classes * n_classes)
  capi.status(C.prior_classification_metrics_compute(int64_array(truth), int64_array(pred), #truth, n_classes, out, cm))
  local confusion = {}
  for r = 1, n_classes do
    confusion[r] = {}
    for c = 1, n_classes do confusion[r][c] = tonumber(cm[(r - 1) * n_classes + (c - 1)]) end
  end
  return { accuracy = out.accuracy, precision = out.macro_precision, recall = out.macro_recall, f1 = out.macro_f1,
           kappa = out.kappa, confusion = confusion }
end

-- Zero-shot classification of the images of `loader` (classes of its dataset rows given by class_of[index]).
function M.zeroshot(model, tok, loader, class_of, opts)
  opts = opts or {}
  local classes = opts.classes or M.CLASSES
  local template = opts.prompt or '%s is observed'
  local texts = {}
  for i, c in ipairs(classes) do texts[i] = { string.format(template, c) } end
  local ig, il, indices = M.encode_images(model, loader)
  local tg, ts, tm = M.encode_texts(model, tok, texts, opts.length or 32)
  local scores = M.scores(model, ig, il, tg, ts, tm, opts.local_weight or 0.5)
  local pred = scores:argmax(2):totable()
  local truth = {}
  for i, idx in ipairs(indices) do truth[i] = class_of[idx] end
  local m = M.classification_metrics(truth, pred, #classes)
  m.n = #truth
  return m
end

-- Image-to-text retrieval: each image ranks the report pool; precision@K of reports of the image's class.
function M.retrieval(model, tok, loader, class_of, reports, report_class, opts)
  opts = opts or {}
  local ig, il, indices = M.encode_images(model, loader)
  local tg, ts, tm = M.encode_texts(model, tok, reports, opts.length or 96)
  local scores = M.scores(model, ig, il, tg, ts, tm, opts.local_weight or 0):double():contiguous()
  local n, p = #indices, #reports
  local qc = {}
  for i, idx in ipairs(indices) do qc[i] = class_of[idx] end
  local data = ffi.cast('double*', C.prior_tensor_data(scores.h))
  local out = {}
  for _, k in ipairs(opts.k or { 1, 5, 10 }) do
    local v = ffi.new('double[1]')
    capi.status(C.prior_precision_at_k(data, n, p, int64_array(qc), int64_array(report_class), math.min(k, p), v))
    out['p@' .. k] = v[0]
  end
  out.n_queries, out.n_reports = n, p
  return out
end

-- The retrieval pool: the reports of ds whose labels are positive (1) for exactly one of `classes`. Returns the
-- reports (lists of sentences) and their class (0-based, as class_of).
function M.report_pool(ds, classes)
  local reports, report_class = {}, {}
  for i = 1, ds:size() do
    local s = ds:sample(i)
    local hit, count = nil, 0
    for c, name in ipairs(classes) do
      if s.labels and s.labels[name] == 1 then hit, count = c - 1, count + 1 end
    end
    if count == 1 and #s.sentences > 0 then
      reports[#reports + 1], report_class[#report_class + 1] = s.sentences, hit
    end
  end
  return reports, report_class
end

function M.format_confusion(confusion, classes)
  local lines = { string.format('%-18s %s', 'truth \\ predicted', table.concat((function()
    local h = {}
    for i = 1, #classes do h[i] = string.format('%6s', classes[i]:sub(1, 6)) end
    return h
  end)(), ' ')) }
  for r, row in ipairs(confusion) do
    local cells = {}
    for c = 1, #row do cells[c] = string.format('%6d', row[c]) end
    lines[#lines + 1] = string.format('%-18s %s', classes[r], table.concat(cells, ' '))
  end
  return table.concat(lines, '\n')
end

return M
