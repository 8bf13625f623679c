-- The figure scripts (viz/*.lua) run headless on a small checkpoint: a randomly initialised tiny model and a
-- CI-sized synthetic set made here. Each must write NAME.png of the expected size that is not blank (gray-level
-- variance) and NAME.pdf; --help must work; a gnuplot error must come back as a Lua error with gnuplot's text.
-- Run from the repository root: prior tests/lua/test_viz.lua (exit 77 = skipped, no gnuplot).
if os.execute('gnuplot --version >/dev/null 2>&1') ~= 0 then
  print('test_viz: gnuplot not found, skipped')
  os.exit(77)
end

local prior = require 'prior'
local PRIOR = require 'prior.models.prior'
local png = dofile('tests/lua/helpers/png.lua')
local V = dofile('viz/common.lua')

local T = require 'prior.testing'

local tmp = os.tmpname()
os.remove(tmp)
os.execute("mkdir -p '" .. tmp .. "'")
local out = tmp .. '/figures'

-- A CI-sized synthetic set (the one table3_activation trains on by default) and a random tiny model.
local d = V.SMALL_DATA
local paths = prior.data.synthetic{root = tmp .. '/data', seed = d.seed, image_size = d.image_size,
                                   mimic_subjects = d.mimic_subjects, chexpert_patients = d.chexpert_patients,
                                   per_class = d.per_class, trees = {'mimic', 'chexpert'}}
local tok = prior.data.tokenizer(paths.vocab, {lowercase = true})
prior.seed(0)
local preset = PRIOR.preset('tiny')
local model = PRIOR.new{preset = 'tiny', vocab_size = tok:vocab_size(),
                        max_positions = math.max(preset.model.max_positions, preset.data.max_length)}
local ckpt = tmp .. '/prior.safetensors'
model:save(ckpt, {preset = 'tiny'})
model = nil

-- A training log as scripts/pretrain.lua writes it: three stages, each adding its loss terms.
local log = io.open(tmp .. '/log.jsonl', 'w')
for s = 0, 44 do
  local stage = s < 20 and 1 or (s < 32 and 2 or 3)
  local rec = string.format('{"step": %d, "stage": %d, "lr": 0.001, "total": %g, "global": %g, "local_image": %g, "local_text": %g',
                            s, stage, 5 * math.exp(-s / 15), 3 * math.exp(-s / 20), -0.5 - s / 100, 2 * math.exp(-s / 25))
  if stage >= 2 then rec = rec .. string.format(', "proto": %g', 0.3 * math.exp(-(s - 20) / 8)) end
  if stage == 3 then rec = rec .. string.format(', "rec_image": %g, "spg": 0.2, "kl": 0.1, "gpa": %g', 0.9 - s / 200, 2 - s / 100) end
  log:write(rec, '}\n')
end
log:close()

local exe = arg[-1] or 'prior'
local function run(args)
  local f = io.popen(exe .. ' ' .. args .. ' 2>&1; echo "exit=$?"')
  local text = f:read('*a')
  f:close()
  local code = tonumber(text:match('exit=(%d+)%s*$'))
  return code, text
end

local function check_figure(name, w, h)
  local path = out .. '/' .. name .. '.png'
  local info, err = png.info(path)
  T.truthy(info ~= nil, name .. ': ' .. tostring(err))
  if not info then return end
  T.truthy(info.w == w and info.h == h, string.format('%s: PNG is %dx%d, expected %dx%d', name, info.w, info.h, w, h))
  if png.available then
    local var = png.gray_variance(path)
    T.truthy(var > 100, string.format('%s: gray-level variance %.1f (blank?)', name, var))
  end
  local pdf = io.open(out .. '/' .. name .. '.pdf', 'rb')
  T.truthy(pdf and pdf:read(5) == '%PDF-', name .. ': PDF written')
  if pdf then pdf:close() end
end

local common = string.format("--ckpt '%s' --data '%s' --out '%s'", ckpt, paths.root, out)
local SCRIPTS = {
  -- name, extra arguments, expected PNG size
  {'curves', string.format("--log '%s/log.jsonl'", tmp), 1260, 900},
  {'fig4_reconstruction', '--count 4 --split train', 880, 500},
  {'fig3_attention', '--per-class 2', 500, 1250},
  {'fig2_spb_distribution', '', 1200, 120 + 28 * 17},
  {'fig5_prototypes', '', 1300, 1150},
  {'fig1_tsne', '--count 80 --iters 250', 1500, 680},
  {'table3_activation', '--seeds 1', 900, 520},
}
for _, s in ipairs(SCRIPTS) do
  T.test(s[1], function()
    local t0 = os.time()
    local code, text = run(string.format('viz/%s.lua %s %s', s[1], common, s[2]))
    T.truthy(code == 0, s[1] .. ' failed:\n' .. text)
    check_figure(s[1], s[3], s[4])
    io.stdout:write(string.format('test_viz: %s in %d s\n', s[1], os.time() - t0))
  end)
  T.test(s[1] .. ' --help', function()
    local code, text = run(string.format('viz/%s.lua --help', s[1]))
    T.truthy(code == 0 and text:match('prior viz/' .. s[1] .. '%.lua') and text:match('%-%-out DIR'),
          s[1] .. ' --help:\n' .. text)
  end)
end

T.test('table3 markdown', function()
  local f = io.open(out .. '/table3_activation.md')
  local md = f and f:read('*a') or ''
  if f then f:close() end
  T.truthy(md:match('| sigmoid |') and md:match('| softmax |') and md:match('%+%- '), 'table3 Markdown:\n' .. md)
end)

T.test('errors', function()
  -- a missing checkpoint and an unknown option are named
  local code, text = run(string.format("viz/fig4_reconstruction.lua --ckpt '%s/none.safetensors' --data '%s' --out '%s'",
                                       tmp, paths.root, out))
  T.truthy(code ~= 0 and text:match('no checkpoint at'), 'missing checkpoint:\n' .. text)
  code, text = run('viz/fig2_spb_distribution.lua --bogus 1')
  T.truthy(code ~= 0 and text:match('unknown argument %-%-bogus'), 'unknown option:\n' .. text)
  -- a gnuplot error inside a figure's drawing comes back as a Lua error with gnuplot's text
  local ok, err = pcall(V.save, {opts = {out = out}}, 'broken', nil, function(fig, file)
    fig:multiplot(1, 1, {file = file}, function(f) f:raw({'plot sin(x) with nonsense'}) end)
  end)
  T.truthy(not ok, 'a gnuplot error is a Lua error')
  T.truthy(tostring(err):match('gnuplot') and tostring(err):match('nonsense'), 'with gnuplot\'s text: ' .. tostring(err))
end)

T.finally(function() os.execute("rm -rf '" .. tmp .. "'") end)
T.run()
