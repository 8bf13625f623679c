-- What the figure scripts share: arguments, the data set and tokenizer, the checkpoint, batches of chosen
-- samples, tensors as Lua rows, and saving one figure as PNG and PDF.
--
--   local V = dofile((arg[0]:match('^(.*)/') or '.') .. '/common.lua')
--   local opts = V.args('fig4_reconstruction', USAGE, {count = 6})
--   local ctx = V.setup(opts)          -- ctx.model, ctx.tok, ctx.paths, ctx.preset
local prior = require 'prior'
local PRIOR = require 'prior.models.prior'

local V = {}

V.COMMON_USAGE = [[
  --ckpt PATH    model weights (scripts/pretrain.lua writes runs/pretrain-tiny/prior.safetensors)
  --data DIR     root of the synthetic set the model was trained on (its vocab.txt, mimic-cxr-jpg/, chexpert/)
  --out DIR      where the figure goes (NAME.png and NAME.pdf); created when missing
  --preset NAME  the model preset of the checkpoint (default tiny)
  --seed N       which samples are drawn (default 0)
  --help         this text]]

-- Parses `--key value` pairs (and --help) against defaults; numbers stay numbers. Flags listed in `flags` take
-- no value. Prints the usage and exits on --help.
function V.args(name, usage, defaults, flags)
  local all = {ckpt = false, data = false, out = 'runs/figures', preset = 'tiny', seed = 0}
  for k, v in pairs(defaults or {}) do all[k] = v end
  return require('prior.cli').parse(name, all, flags, usage .. '\n' .. V.COMMON_USAGE)
end

local function exists(path)
  local f = io.open(path)
  if f then f:close() end
  return f ~= nil
end
V.exists = exists

-- The data set's paths and tokenizer; the model from the checkpoint when need_model (default true).
function V.setup(opts, need_model)
  if not opts.data then error('--data DIR is required (see --help)', 0) end
  local root = opts.data
  local paths = {root = root, vocab = root .. '/vocab.txt', mimic = root .. '/mimic-cxr-jpg', chexpert = root .. '/chexpert'}
  if not exists(paths.vocab) then
    error(string.format('%s has no vocab.txt: not a synthetic set (scripts/pretrain.lua --data %s writes one)', root, root), 0)
  end
  local ctx = {paths = paths, opts = opts}
  ctx.preset = PRIOR.preset(opts.preset)
  ctx.tok = prior.data.tokenizer(paths.vocab, {lowercase = true})
  ctx.max_length = ctx.preset.data and ctx.preset.data.max_length or 96
  ctx.image_size = ctx.preset.model.image_size or 224
  ctx.tau = ctx.preset.train and ctx.preset.train.tau_end or 0.01 -- the temperature training ended with
  if need_model ~= false then
    if not opts.ckpt then error('--ckpt PATH is required (see --help)', 0) end
    if not exists(opts.ckpt) then error('no checkpoint at ' .. opts.ckpt, 0) end
    local cfg = {preset = opts.preset, vocab_size = ctx.tok:vocab_size()}
    cfg.max_positions = math.max(ctx.preset.model.max_positions or 0, ctx.max_length) -- as scripts/pretrain.lua
    ctx.model = PRIOR.new(cfg)
    ctx.model:load(opts.ckpt)
  end
  os.execute("mkdir -p '" .. opts.out .. "'")
  return ctx
end

-- A loader over ds that builds batches of chosen samples (no augmentation, sentences in report order).
function V.loader(ctx, ds, with_text)
  return prior.data.loader(ds, {batch_size = 1, image_size = ctx.image_size, workers = 0, shuffle = false,
                                drop_last = false, augment = false, seed = 0,
                                tokenizer = with_text and ctx.tok or nil, max_length = ctx.max_length,
                                shuffle_sentences = false})
end

-- Tokenizes reports (lists of sentences) the way the loader does: ids, attention_mask, sentence_index [B, L].
function V.encode(ctx, reports)
  local ids, mask, sidx = ctx.tok:encode_reports(reports, {length = ctx.max_length})
  return ids, mask, sidx
end

-- Rows of the 2-D slice t[b, c] of a [B, C, H, W] tensor (or t[b] of [B, H, W]), as Lua numbers.
function V.image_rows(t, b, c)
  local all = t:totable()
  local img = all[b]
  if c then img = img[c] end
  return img
end

-- Draws one figure twice, as OUT/NAME.png and OUT/NAME.pdf: draw(fig, file, size) must pass file and size on.
function V.save(ctx, name, size, draw)
  local plot = require 'prior.plot'
  local files = {}
  for _, ext in ipairs({'png', 'pdf'}) do
    local fig = plot.figure{}
    local file = ctx.opts.out .. '/' .. name .. '.' .. ext
    local ok, err = pcall(draw, fig, file, size)
    fig:close()
    if not ok then error(err, 0) end
    files[#files + 1] = file
  end
  io.stdout:write('wrote ', table.concat(files, ' and '), '\n')
  return files
end

-- The synthetic set of CI-sized runs (table3_activation's default, the tests): a few dozen pairs at 64 pixels.
V.SMALL_DATA = {seed = 0, image_size = 64, mimic_subjects = 12, chexpert_patients = 24, per_class = 2}

-- Lua source of a value made of tables, strings, numbers and booleans (a config file for scripts/pretrain.lua).
function V.serialize(v, indent)
  indent = indent or ''
  if type(v) == 'string' then return string.format('%q', v) end
  if type(v) ~= 'table' then return tostring(v) end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  local parts = {}
  for _, k in ipairs(keys) do
    local key = type(k) == 'number' and string.format('[%d]', k) or string.format('[%q]', k)
    parts[#parts + 1] = indent .. '  ' .. key .. ' = ' .. V.serialize(v[k], indent .. '  ')
  end
  return '{\n' .. table.concat(parts, ',\n') .. '\n' .. indent .. '}'
end

-- Deterministic sample choice: k distinct positions out of 1..n, from seed.
function V.pick(n, k, seed)
  local idx = {}
  for i = 1, n do idx[i] = i end
  local state = (seed or 0) * 2654435761 % 4294967296 + 12345
  local function rand(m)
    state = (state * 1103515245 + 12345) % 2147483648
    return state % m + 1
  end
  for i = n, 2, -1 do
    local j = rand(i)
    idx[i], idx[j] = idx[j], idx[i]
  end
  local out = {}
  for i = 1, math.min(k, n) do out[i] = idx[i] end
  return out
end

-- Cuts text into lines of at most width characters at spaces.
function V.wrap(text, width)
  local lines, line = {}, ''
  for word in text:gmatch('%S+') do
    if #line > 0 and #line + 1 + #word > width then
      lines[#lines + 1] = line
      line = word
    else
      line = #line > 0 and (line .. ' ' .. word) or word
    end
  end
  if #line > 0 then lines[#lines + 1] = line end
  return lines
end

return V
