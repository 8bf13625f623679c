-- Image-to-text retrieval with a pre-trained PRIOR model: CheXpert 5xK images rank a pool of MIMIC test reports that
-- name exactly one of the five classes; prints precision@K.
--
--   prior scripts/retrieval.lua --ckpt PATH [--config tiny|paper|FILE.lua] [--data DIR] [--per-class K]
--                               [--pool-per-class N] [--local-weight W] [--spb yes|no]
local prior = require 'prior'
local eval = require 'prior.eval'
local cli = require 'prior.cli'

local opts = cli.parse('retrieval', { ckpt = false, config = 'tiny', data = 'data/synthetic', ['per-class'] = false,
                                   ['pool-per-class'] = false, ['local-weight'] = false, spb = false }, nil, cli.header(arg[0]))
if not opts.ckpt then error('retrieval: --ckpt PATH is required', 0) end
local cfg = cli.config(opts.config)
local d, e = cfg.data, cfg.eval
local tok = prior.data.tokenizer(opts.data .. '/vocab.txt')
local model = eval.load_model(opts.ckpt, cfg, tok:vocab_size()) -- ours, or the PRIOR authors' with their settings
local loader, classes, class_of = eval.chexpert_loader(opts.data .. '/chexpert', cfg, opts['per-class'] or nil)
local test = prior.data.mimic{ root = opts.data .. '/mimic-cxr-jpg', split = 'test' }
local reports, report_class = eval.report_pool(test, classes, opts['pool-per-class'] or nil)
if #reports == 0 then error('retrieval: no test report names exactly one of the classes', 0) end
local use_spb = e.use_spb
if opts.spb then use_spb = opts.spb == 'yes' end
local r = eval.retrieval(model, tok, loader, class_of, reports, report_class,
                         { k = e.retrieval_k, local_weight = opts['local-weight'] or 0, use_spb = use_spb, tau = e.tau })
local parts = {}
for _, k in ipairs(e.retrieval_k) do parts[#parts + 1] = string.format('P@%d %.4f', k, r['p@' .. k]) end
print(string.format('image-to-text retrieval (%d images, %d reports): %s', r.n_queries, r.n_reports, table.concat(parts, '  ')))
