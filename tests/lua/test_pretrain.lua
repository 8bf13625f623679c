-- The pre-training script end to end on a small synthetic set: three stages of a few steps each, checkpoints,
-- the step log, zero-shot and retrieval scores printed, a resumed run, and the error for a NaN-free wrong preset.
local t = require 'prior.testing'
local plot = require 'prior.plot'
local csv = dofile('tests/lua/helpers/csv.lua')
local curve = dofile('tests/lua/helpers/loss_curve.lua')
local exe = arg[-1]
local tmp = os.tmpname()
os.remove(tmp)
os.execute('mkdir -p ' .. tmp)

local function run(args)
  local out = tmp .. '/stdout.txt'
  local ok = os.execute(string.format("'%s' scripts/pretrain.lua %s > %s 2>&1", exe, args, out))
  local f = io.open(out)
  local text = f:read('*a')
  f:close()
  return ok == 0 or ok == true, text
end

-- log.csv against log.jsonl: one header line with the columns in order, one row per JSON line with its values, an
-- empty cell where the JSON record has no such key. Returns the number of rows.
local LOG_COLUMNS = 'step,stage,epoch,lr,tau,time,total,global,local_image,local_text,proto,rec_image,spg,kl,gpa,grad_norm'
local function check_csv_log(dir)
  local recs = plot.read_jsonl(dir .. '/log.jsonl')
  local header, rows, headers = csv.read(dir .. '/log.csv')
  t.eq(table.concat(header, ','), LOG_COLUMNS, 'log.csv columns')
  t.eq(headers, 1, 'one header line')
  t.eq(#rows, #recs, 'a CSV row per JSON line')
  for i, rec in ipairs(recs) do
    t.eq(#rows[i], #header, 'row ' .. i .. ' has every column')
    for col, k in ipairs(header) do
      if rec[k] == nil then
        t.eq(rows[i][col], '', string.format('row %d: %s is absent in the JSON log', i, k))
      else
        t.eq(tonumber(rows[i][col]), rec[k], string.format('row %d: %s', i, k))
      end
    end
  end
  return #rows
end

-- A config file: the tiny preset changed by one Lua statement on `c`; returns its path.
local function tiny_config(name, change)
  local path = tmp .. '/' .. name .. '.lua'
  local f = io.open(path, 'w')
  f:write("local c = dofile('scripts/configs/tiny.lua'); ", change, '; return c\n')
  f:close()
  return path
end

local function exists(path)
  local f = io.open(path)
  if f then f:close() end
  return f ~= nil
end

t.test('three stages, checkpoints, log and scores', function()
  local ok, text = run(string.format('--data %s/data --out %s/run --max-steps 3 --quiet', tmp, tmp))
  t.truthy(ok, 'the script exits 0:\n' .. text)
  for _, name in ipairs({ 'log.jsonl', 'log.csv', 'checkpoint.safetensors', 'stage1.safetensors', 'stage2.safetensors',
                          'stage3.safetensors', 'prior.safetensors', 'results.txt' }) do
    t.truthy(exists(tmp .. '/run/' .. name), name .. ' written')
  end
  local lines = 0
  for line in io.lines(tmp .. '/run/log.jsonl') do
    lines = lines + 1
    t.truthy(line:match('^{"step":%d+,"stage":[123],') ~= nil, 'log line: ' .. line)
  end
  t.truthy(lines == 9, '3 steps in each of 3 stages logged, got ' .. lines)
  t.eq(check_csv_log(tmp .. '/run'), 9)
  local _, rows = csv.read(tmp .. '/run/log.csv')
  t.eq(rows[1][11], '', 'no proto term in stage 1')
  t.truthy(tonumber(rows[9][11]) ~= nil and tonumber(rows[9][12]) ~= nil, 'proto and rec_image in stage 3')
  local results = io.open(tmp .. '/run/results.txt'):read('*a')
  t.truthy(results:match('zeroshot_accuracy 0%.%d+') or results:match('zeroshot_accuracy 1%.0+'), 'a zero-shot accuracy')
end)

t.test('zeroshot.lua and retrieval.lua evaluate the checkpoint', function()
  for _, script in ipairs({ 'zeroshot', 'retrieval' }) do
    local out = tmp .. '/' .. script .. '.txt'
    local ok = os.execute(string.format("'%s' scripts/%s.lua --ckpt %s/run/prior.safetensors --data %s/data > %s 2>&1",
                                        exe, script, tmp, tmp, out))
    local text = io.open(out):read('*a')
    t.truthy(ok == 0 or ok == true, script .. ' exits 0:\n' .. text)
    t.truthy(text:match(script == 'zeroshot' and 'accuracy 0?%.?%d' or 'P@1 %d') ~= nil, text)
  end
end)

t.test('resume continues from the checkpoint', function()
  local ok, text = run(string.format('--data %s/data --out %s/run --max-steps 3 --resume --no-eval', tmp, tmp))
  t.truthy(ok, 'resume exits 0:\n' .. text)
  t.truthy(text:match('resumed: stage 3') ~= nil, 'it says where it resumed:\n' .. text)
  check_csv_log(tmp .. '/run') -- reopened for appending: still one header
end)

t.test('a killed run resumed from its checkpoint gives the same loss curve', function()
  local common = string.format('--data %s/data --max-steps 5 --checkpoint-every 4 --no-eval --quiet', tmp)
  -- stopped in stage 2, 3 steps after a checkpoint
  curve.kill_and_resume(t, run, common, tmp .. '/whole', tmp .. '/killed', 7)
  -- the killed run's rows survive and the resumed run's follow them (it repeats the steps after the checkpoint)
  local n = check_csv_log(tmp .. '/killed')
  t.truthy(n > 15, 'rows of both runs: ' .. n)
  local a = curve.check_same(t, tmp .. '/whole/log.jsonl', tmp .. '/killed/log.jsonl', 14)
  t.eq(#a, 14, 'steps 0..14 logged')
end)

t.test('without gradient clipping the updates run inside backward; a killed run still resumes exactly', function()
  local cfg = tiny_config('noclip', 'c.train.clip = nil')
  local common = string.format('--config %s --data %s/data --max-steps 3 --checkpoint-every 4 --no-eval --quiet', cfg, tmp)
  curve.kill_and_resume(t, run, common, tmp .. '/noclip-whole', tmp .. '/noclip-killed', 6)
  curve.check_same(t, tmp .. '/noclip-whole/log.jsonl', tmp .. '/noclip-killed/log.jsonl', 8)
  local header, rows = csv.read(tmp .. '/noclip-whole/log.csv')
  local col
  for i, name in ipairs(header) do if name == 'grad_norm' then col = i end end
  t.truthy(col and #rows == 9, 'nine rows with a grad_norm column')
  for _, r in ipairs(rows) do t.truthy(tonumber(r[col]) and tonumber(r[col]) > 0, 'grad_norm logged: ' .. tostring(r[col])) end
end)

t.test('a NaN loss stops the run naming the term and keeps the last checkpoint', function()
  local ok, text = run(string.format('--data %s/data --out %s/nan --max-steps 5 --checkpoint-every 2 --poison-step 3 --no-eval',
                                     tmp, tmp))
  t.truthy(not ok, 'the run fails')
  t.truthy(text:match('the global loss became nan at step 3') ~= nil, 'message names the term and step:\n' .. text)
  t.truthy(exists(tmp .. '/nan/checkpoint.safetensors'), 'the last good checkpoint is kept')
end)

t.test('a checkpoint of another preset is refused', function()
  local cfg = tiny_config('other', "c.preset = 'other'")
  local ok, text = run(string.format('--config %s --data %s/data --out %s/run --max-steps 3 --resume --no-eval', cfg, tmp, tmp))
  t.truthy(not ok and text:match("preset 'tiny', this run is 'other'") ~= nil, text)
end)

t.test('bad arguments are errors', function()
  local ok, text = run('--no-such-flag')
  t.truthy(not ok and text:match('unknown argument %-%-no%-such%-flag') ~= nil, text)
  ok, text = run(string.format('--out %s/empty --resume', tmp))
  t.truthy(not ok and text:match('no checkpoint') ~= nil, text)
end)

t.test('--help prints the script header and exits 0', function()
  for _, script in ipairs({ 'pretrain', 'zeroshot', 'retrieval', 'make_synthetic' }) do
    local f = io.popen(string.format("'%s' scripts/%s.lua --help 2>&1; echo \"exit=$?\"", exe, script))
    local text = f:read('*a')
    f:close()
    t.truthy(text:match('exit=0') ~= nil, script .. ' --help failed: ' .. text)
    t.truthy(text:match('scripts/' .. script .. '%.lua') or text:match('%-%-'), script .. ' --help printed no usage: ' .. text)
    t.truthy(#text > 120, script .. ' --help is too short: ' .. text)
  end
end)


t.finally(function() os.execute("rm -rf " .. tmp) end)
t.run()
