-- Learning, not just running: the main job (the tiny preset's three-stage pre-training on the synthetic set) must
-- reach zero-shot accuracy >= 0.60 on the 5 x 40 selection (chance 0.20) and retrieval P@1 >= 0.50; the control run,
-- with every image trained against another study's report, must stay near chance; under bf16 autocast (on a CPU that
-- computes bf16 natively) the main job must still learn. About 4 minutes on 2 cores.
local t = require 'prior.testing'
local exe = arg[-1]
local tmp = os.tmpname()
os.remove(tmp)
os.execute('mkdir -p ' .. tmp)
t.finally(function() os.execute('rm -rf ' .. tmp) end)

local function run_and_read(args)
  local log = tmp .. '/log.txt'
  local ok = os.execute(string.format("'%s' scripts/pretrain.lua %s > %s 2>&1", exe, args, log))
  local text = io.open(log):read('*a')
  if not (ok == 0 or ok == true) then error('pretrain failed:\n' .. text, 0) end
  local out = args:match('%-%-out (%S+)')
  local results = {}
  for line in io.lines(out .. '/results.txt') do
    local k, v = line:match('^(%S+) (%S+)$')
    results[k] = tonumber(v)
  end
  return results, text
end

t.test('the main job learns', function()
  local r, text = run_and_read('--out ' .. tmp .. '/main --quiet')
  print(string.format('main job: zero-shot accuracy %.4f, retrieval P@1 %.4f', r.zeroshot_accuracy, r['retrieval_p@1']))
  t.truthy(r.zeroshot_accuracy >= 0.60, 'zero-shot accuracy ' .. r.zeroshot_accuracy .. ' < 0.60\n' .. text)
  t.truthy(r['retrieval_p@1'] >= 0.50, 'retrieval P@1 ' .. r['retrieval_p@1'] .. ' < 0.50\n' .. text)
end)

t.test('the main job learns under bf16 autocast', function()
  local _, native = require('prior').autocast()
  if not native then
    print('skipped: this CPU has no native bf16 (autocast would run f32)')
    return
  end
  local r, text = run_and_read('--out ' .. tmp .. '/amp --autocast --quiet')
  print(string.format('autocast: zero-shot accuracy %.4f, retrieval P@1 %.4f', r.zeroshot_accuracy, r['retrieval_p@1']))
  t.truthy(r.zeroshot_accuracy >= 0.50, 'autocast zero-shot accuracy ' .. r.zeroshot_accuracy .. ' < 0.50\n' .. text)
  t.truthy(r['retrieval_p@1'] >= 0.50, 'autocast retrieval P@1 ' .. r['retrieval_p@1'] .. ' < 0.50\n' .. text)
end)

t.test('the shuffled-pairs control stays near chance', function()
  local r = run_and_read('--out ' .. tmp .. '/control --shuffle-pairs --epochs-scale 0.5 --quiet')
  print(string.format('control: zero-shot accuracy %.4f, retrieval P@1 %.4f', r.zeroshot_accuracy, r['retrieval_p@1']))
  t.truthy(r.zeroshot_accuracy <= 0.35, 'control zero-shot accuracy ' .. r.zeroshot_accuracy .. ' is far above chance')
  t.truthy(r['retrieval_p@1'] <= 0.40, 'control retrieval P@1 ' .. r['retrieval_p@1'] .. ' is far above chance')
end)

t.run()
