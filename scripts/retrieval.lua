-- Image-to-text retrieval with a pre-trained PRIOR model: CheXpert 5xK images rank a pool of MIMIC test reports that
-- name exactly one of the five classes; prints precision@K.
--
--   prior scripts/retrieval.lua --ckpt PATH [--config tiny|paper|FILE.lua] [--data DIR] [--per-class K]
--                               [--pool-per-class N] [--local-weight W] [--spb yes|no]
local prior = require 'prior'
local PRIOR = require 'prior.models.prior'
local eval = require 'prior.eval'

local opts = { ckpt = false, config = 'tiny', data = 'data/synthetic', ['per-class'] = false,
               ['pool-per-class'] = false, ['local-weight'] = false, spb = false }
local argv, i = arg or {}, 1
while argv[i] do
  local key = argv[i]:match('^%-%-(.+)$')
  if key and opts[key] ~= nil and argv[i + 1] then opts[key] = tonumber(argv[i + 1]) or argv[i + 1]; i = i + 2
  else error('retrieval: unknown or incomplete argument ' .. tostring(argv[i]) .. ' (see the header of scripts/retrieval.lua)', 0) end
end
if not opts.ckpt then error('retrieval: --ckpt PATH is required', 0) end
local cfg = opts.config:match('%.lua$') and dofile(opts.config) or PRIOR.preset(opts.config)
local d, e = cfg.data, cfg.eval
local tok = prior.data.tokenizer(opts.data .. '/vocab.txt')
local mcfg = { vocab_size = tok:vocab_size() }
for k, v in pairs(cfg.model) do if mcfg[k] == nil then mcfg[k] = v end end
mcfg.max_positions = math.max(mcfg.max_positions or 0, d.max_length)
local model = PRIOR.new(mcfg)
model:load(opts.ckpt, { drop_prefixes = 'optimizer.' })
local five, classes, class_of = prior.data.chexpert5x200{ root = opts.data .. '/chexpert', per_class = opts['per-class'] or d.per_class,
                                                          seed = d.seed }
local loader = prior.data.loader(five, { batch_size = 64, image_size = d.image_size, workers = d.workers or 1,
                                         shuffle = false, drop_last = false, augment = false, seed = 0 })
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
