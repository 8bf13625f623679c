-- Zero-shot classification with a pre-trained PRIOR model on the CheXpert 5xK selection: prompts "X is observed"
-- through the text path, score = softmax over classes of the global similarity + a weighted softmax of the LAM
-- similarity; prints accuracy, macro precision/recall/F1, Cohen's kappa and the confusion matrix.
--
--   prior scripts/zeroshot.lua --ckpt PATH [--config tiny|paper|FILE.lua] [--data DIR] [--per-class K]
--                              [--prompt FMT] [--local-weight W] [--spb yes|no] [--tau T]
local prior = require 'prior'
local PRIOR = require 'prior.models.prior'
local eval = require 'prior.eval'

local opts = { ckpt = false, config = 'tiny', data = 'data/synthetic', ['per-class'] = false, prompt = false,
               ['local-weight'] = false, spb = false, tau = false }
local argv, i = arg or {}, 1
while argv[i] do
  local key = argv[i]:match('^%-%-(.+)$')
  if key and opts[key] ~= nil and argv[i + 1] then opts[key] = tonumber(argv[i + 1]) or argv[i + 1]; i = i + 2
  else error('zeroshot: unknown or incomplete argument ' .. tostring(argv[i]) .. ' (see the header of scripts/zeroshot.lua)', 0) end
end
if not opts.ckpt then error('zeroshot: --ckpt PATH is required', 0) end
local cfg = opts.config:match('%.lua$') and dofile(opts.config) or PRIOR.preset(opts.config)
local d, e = cfg.data, cfg.eval
local tok = prior.data.tokenizer(opts.data .. '/vocab.txt')
local mcfg = { vocab_size = tok:vocab_size() }
for k, v in pairs(cfg.model) do if mcfg[k] == nil then mcfg[k] = v end end
mcfg.max_positions = math.max(mcfg.max_positions or 0, d.max_length)
local model = PRIOR.new(mcfg)
model:load(opts.ckpt, { drop_prefixes = 'optimizer.' })
local per_class = opts['per-class'] or d.per_class
local five, classes, class_of = prior.data.chexpert5x200{ root = opts.data .. '/chexpert', per_class = per_class, seed = d.seed }
local loader = prior.data.loader(five, { batch_size = 64, image_size = d.image_size, workers = d.workers or 1,
                                         shuffle = false, drop_last = false, augment = false, seed = 0 })
local use_spb = e.use_spb
if opts.spb then use_spb = opts.spb == 'yes' end
local m = eval.zeroshot(model, tok, loader, class_of, { prompt = opts.prompt or e.prompts, classes = classes,
                                                        local_weight = opts['local-weight'] or e.local_weight,
                                                        use_spb = use_spb, tau = opts.tau or e.tau })
print(string.format('zero-shot classification (%d images): accuracy %.4f  precision %.4f  recall %.4f  F1 %.4f  kappa %.4f',
                    m.n, m.accuracy, m.precision, m.recall, m.f1, m.kappa))
print(eval.format_confusion(m.confusion, classes))
