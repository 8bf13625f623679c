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

-- Texts (a list of sentence lists) -> global [P, D], sentences [P, M, D] (through the SPB at temperature tau when
-- use_spb; MODEL.md's zero-shot path), mask [P, M].
function M.encode_texts(model, tok, texts, length, use_spb, tau)
  local ids, mask, sentence_index = tok:encode_reports(texts, { length = length })
  if use_spb == nil then use_spb = true end
  return model:encode_text(ids, mask, sentence_index, use_spb, tau or 0.01)
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
  local tg, ts, tm = M.encode_texts(model, tok, texts, opts.length or 32, opts.use_spb, opts.tau)
  local scores = M.scores(model, ig, il, tg, ts, tm, opts.local_weight or 0.5)
  local all_pred = scores:argmax(2):totable()
  local truth, pred, unlabeled = {}, {}, 0
  for i, idx in ipairs(indices) do -- 1-based dataset positions (encode_images)
    local c = class_of[idx]
    if c then
      truth[#truth + 1], pred[#pred + 1] = c, all_pred[i]
    else
      unlabeled = unlabeled + 1 -- a row without exactly one of the classes cannot be scored
    end
  end
  local m = M.classification_metrics(truth, pred, #classes)
  m.n, m.unlabeled = #truth, unlabeled
  return m
end

-- Image-to-text retrieval: each image ranks the report pool; precision@K of reports of the image's class.
function M.retrieval(model, tok, loader, class_of, reports, report_class, opts)
  opts = opts or {}
  local ig, il, indices = M.encode_images(model, loader)
  local tg, ts, tm = M.encode_texts(model, tok, reports, opts.length or 96, opts.use_spb, opts.tau)
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

-- The model of a checkpoint, for evaluation: ours (built from cfg for a vocabulary of vocab_size) or the PRIOR
-- authors' (prior.models.prior.load: its own sizes and switches), whose settings then replace cfg's where they
-- differ (image size, their CheXpert z-score statistics, the local weight, the SPB temperature). overrides (may be
-- nil): model fields for PRIOR.load (e.g. heads for a BERT other than 768 wide).
function M.load_model(path, cfg, vocab_size, overrides)
  local PRIOR = require 'prior.models.prior'
  local ref = require 'prior.models.reference'
  if ref.kind((ref.tensors(path))) == 'ours' then
    local model = PRIOR.from_config(cfg, vocab_size)
    model:load(path, { drop_prefixes = 'optimizer.' })
    return model
  end
  local model = PRIOR.load(path, overrides)
  if vocab_size and vocab_size ~= model.config.vocab_size then
    error(string.format('eval.load_model: the vocabulary has %d tokens, the checkpoint %s was trained with %d',
                        vocab_size, path, model.config.vocab_size), 2)
  end
  cfg.data, cfg.eval = cfg.data or {}, cfg.eval or {}
  cfg.data.image_size = model.config.image_size
  for k, v in pairs(model.settings.data) do cfg.data[k] = v end
  for k, v in pairs(model.settings.eval) do cfg.eval[k] = v end
  return model
end

-- The CheXpert 5xK selection of a data set (built from cfg.data's seed if missing) and an in-order loader over it:
-- loader, class names, class_of (1-based position -> 0-based class).
function M.chexpert_loader(chexpert_root, cfg, per_class)
  local d = cfg.data
  local five, classes, class_of = prior.data.chexpert5x200{ root = chexpert_root, per_class = per_class or d.per_class,
                                                            seed = d.seed }
  local loader = prior.data.loader(five, { batch_size = 64, image_size = d.image_size, workers = d.workers or 1,
                                           shuffle = false, drop_last = false, augment = false, seed = 0,
                                           mean = d.mean, std = d.std }) -- nil: the loader's MIMIC-CXR statistics
  return loader, classes, class_of
end

-- The retrieval pool: reports of a dataset whose positive labels are exactly one of `classes`; returns the
-- reports (lists of sentences) and their 0-based classes.
function M.report_pool(ds, classes, per_class)
  local class_index = {}
  for i, c in ipairs(classes) do class_index[c] = i - 1 end
  local reports, report_class, count = {}, {}, {}
  for i = 1, ds:size() do
    local s = ds:sample(i)
    local positives, which = 0, nil
    for name, v in pairs(s.labels or {}) do
      if v == 1 and name ~= 'No Finding' and name ~= 'Support Devices' then
        positives = positives + 1
        which = class_index[name]
      end
    end
    if positives == 1 and which and (not per_class or (count[which] or 0) < per_class) and #s.sentences > 0 then
      reports[#reports + 1] = s.sentences
      report_class[#report_class + 1] = which
      count[which] = (count[which] or 0) + 1
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
