-- Zero-shot classification with a pre-trained PRIOR model on the CheXpert 5xK selection: prompts "X is observed"
-- through the text path, score = softmax over classes of the global similarity + a weighted softmax of the LAM
-- similarity; prints accuracy, macro precision/recall/F1, Cohen's kappa and the confusion matrix.
--
--   prior scripts/zeroshot.lua --ckpt PATH [--config tiny|paper|FILE.lua] [--data DIR] [--per-class K]
--                              [--prompt FMT] [--local-weight W] [--spb yes|no] [--tau T]
local prior = require 'prior'
local eval = require 'prior.eval'
local cli = require 'prior.cli'

local opts = cli.parse('zeroshot', { ckpt = false, config = 'tiny', data = 'data/synthetic', ['per-class'] = false, prompt = false,
                                   ['local-weight'] = false, spb = false, tau = false }, nil, cli.header(arg[0]))
if not opts.ckpt then error('zeroshot: --ckpt PATH is required', 0) end
local cfg = cli.config(opts.config)
local d, e = cfg.data, cfg.eval
local tok = prior.data.tokenizer(opts.data .. '/vocab.txt')
local model = eval.load_model(opts.ckpt, cfg, tok:vocab_size()) -- ours, or the PRIOR authors' with their settings
local loader, classes, class_of = eval.chexpert_loader(opts.data .. '/chexpert', cfg, opts['per-class'] or nil)
local use_spb = e.use_spb
if opts.spb then use_spb = opts.spb == 'yes' end
local m = eval.zeroshot(model, tok, loader, class_of, { prompt = opts.prompt or e.prompts, classes = classes,
                                                        local_weight = opts['local-weight'] or e.local_weight,
                                                        use_spb = use_spb, tau = opts.tau or e.tau })
print(string.format('zero-shot classification (%d images): accuracy %.4f  precision %.4f  recall %.4f  F1 %.4f  kappa %.4f',
                    m.n, m.accuracy, m.precision, m.recall, m.f1, m.kappa))
print(eval.format_confusion(m.confusion, classes))
