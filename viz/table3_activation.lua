-- Table 3: sigmoid vs softmax in the local alignment module. Each activation is pre-trained from scratch by
-- scripts/pretrain.lua (--lam-activation) for every seed, then evaluated there (zero-shot classification on the
-- CheXpert 5xK selection, image-to-text retrieval); the table reports mean +- std over seeds, printed and saved as
-- Markdown, with a bar chart of the means. The paper's table also has SIIM segmentation, which is not run here.
-- The default is CI-sized (a few dozen pairs, one epoch per stage, 2 seeds); --full runs the tiny preset as is.
local V = dofile((arg[0]:match('^(.*)/') or '.') .. '/common.lua')
local PRIOR = require 'prior.models.prior'

local USAGE = [[
prior viz/table3_activation.lua --data DIR --out DIR [--full] [--seeds N] [--epochs-scale X]
  Pre-trains with sigmoid and with softmax LAM attention, N seeds each, and tabulates the evaluation.
  --full            the whole tiny preset (its data set and schedule; minutes per run) instead of the CI size
  --seeds N         seeds per activation (default 2; 3 with --full)
  --epochs-scale X  passed to scripts/pretrain.lua (default 1)
  --name NAME       output file name without extension (default table3_activation)
  --ckpt is not used: every run trains its own model (runs under OUT/table3_runs/).]]

local opts = V.args('table3_activation', USAGE, {seeds = 0, ['epochs-scale'] = 1, name = 'table3_activation'}, {'full'})
if not opts.data then error('table3_activation: --data DIR is required (see --help)', 0) end
local seeds = opts.seeds > 0 and opts.seeds or (opts.full and 3 or 2)
os.execute("mkdir -p '" .. opts.out .. "/table3_runs'")

-- The run configuration: the tiny preset, shrunk to the CI size unless --full.
local cfg = PRIOR.preset(opts.preset)
cfg.preset = opts.preset
if not opts.full then
  for k, v in pairs(V.SMALL_DATA) do cfg.data[k] = v end
  cfg.data.batch_size, cfg.data.workers = 16, 1
  cfg.train.stages = {{epochs = 1}, {epochs = 1}, {epochs = 1}}
  cfg.train.warmup_steps, cfg.train.checkpoint_every, cfg.train.log_every = 1, nil, 1000
end
local cfg_path = opts.out .. '/table3_runs/config.lua'
local f = assert(io.open(cfg_path, 'w'))
f:write('-- written by viz/table3_activation.lua\nreturn ', V.serialize(cfg), '\n')
f:close()

local exe = arg[-1] or 'prior'
local script = (PRIOR_BUILD and PRIOR_BUILD.source_dir or '.') .. '/scripts/pretrain.lua'
if not V.exists(script) then script = 'scripts/pretrain.lua' end
local function sh(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local ACTS = {'sigmoid', 'softmax'}
local results = {} -- results[act][metric] = {values over seeds}
local metrics = {}
for _, act in ipairs(ACTS) do
  results[act] = {}
  for seed = 0, seeds - 1 do
    local dir = string.format('%s/table3_runs/%s-seed%d', opts.out, act, seed)
    local cmd = table.concat({sh(exe), sh(script), '--config', sh(cfg_path), '--data', sh(opts.data), '--out', sh(dir),
                              '--seed', seed, '--lam-activation', act, '--epochs-scale', opts['epochs-scale'], '--quiet',
                              '>', sh(dir .. '.log'), '2>&1'}, ' ')
    io.stdout:write(string.format('pre-training %s, seed %d ... ', act, seed))
    io.stdout:flush()
    local t0 = os.time()
    local ok = os.execute(cmd)
    if ok ~= 0 and ok ~= true then
      local lf = io.open(dir .. '.log')
      local tail = lf and lf:read('*a'):sub(-1500) or ''
      if lf then lf:close() end
      error(string.format('table3_activation: the %s run (seed %d) failed; its log %s ends:\n%s', act, seed, dir .. '.log', tail), 0)
    end
    io.stdout:write(string.format('%d s\n', os.time() - t0))
    for line in io.lines(dir .. '/results.txt') do
      local key, value = line:match('^(%S+)%s+(%S+)$')
      if key then
        if not results[act][key] then
          results[act][key] = {}
          if act == ACTS[1] then metrics[#metrics + 1] = key end
        end
        table.insert(results[act][key], tonumber(value))
      end
    end
  end
end

local function mean_std(v)
  local m = 0
  for _, x in ipairs(v) do m = m + x end
  m = m / #v
  local s = 0
  for _, x in ipairs(v) do s = s + (x - m) ^ 2 end
  return m, #v > 1 and math.sqrt(s / (#v - 1)) or 0
end

local lines = {
  string.format('LAM activation ablation (Table 3): %s, %d seed%s per activation; mean +- sample std.',
                opts.full and 'tiny preset' or 'CI-sized tiny run', seeds, seeds > 1 and 's' or ''),
  '',
  '| activation | ' .. table.concat(metrics, ' | ') .. ' |',
  '|---' .. string.rep('|---:', #metrics) .. '|',
}
local means = {}
for a, act in ipairs(ACTS) do
  local cells = {}
  means[a] = {}
  for i, k in ipairs(metrics) do
    local m, s = mean_std(results[act][k] or {0 / 0})
    cells[i] = string.format('%.4f +- %.4f', m, s)
    means[a][i] = m
  end
  lines[#lines + 1] = '| ' .. act .. ' | ' .. table.concat(cells, ' | ') .. ' |'
end
local md = table.concat(lines, '\n') .. '\n'
io.stdout:write('\n', md)
local mf = assert(io.open(opts.out .. '/' .. opts.name .. '.md', 'w'))
mf:write(md)
mf:close()
io.stdout:write('wrote ', opts.out .. '/' .. opts.name .. '.md\n')

V.save({opts = opts}, opts.name, nil, function(fig, file)
  fig:bars({{values = means[1], title = 'sigmoid'}, {values = means[2], title = 'softmax'}},
           {file = file, size = {900, 520}, labels = metrics, ylabel = 'score (mean over seeds)',
            title = string.format('LAM activation: sigmoid vs softmax (%d seeds each)', seeds)})
end)
