-- Several processes (prior.dist over MPI), driven through mpirun with two processes of one thread each:
-- data-parallel training equals one-process training of the whole batch (two linear towers, one with batch norm,
-- under the global InfoNCE, f64: the all-gathered loss and the synchronised batch norm); the collectives work from
-- Lua; scripts/pretrain.lua runs as two processes, writes its logs from process 0 only, and a killed two-process run
-- resumes to the same loss curve. Skipped when the build has no MPI or mpirun is missing.
local t = require 'prior.testing'
local curve = dofile('tests/lua/helpers/loss_curve.lua')
local exe = arg[-1]

if not prior.dist.available() or os.execute('command -v mpirun > /dev/null 2>&1') ~= 0 then
  print('skipped: this build has no MPI, or mpirun is not installed')
  os.exit(77)
end

local tmp = os.tmpname()
os.remove(tmp)
os.execute('mkdir -p ' .. tmp)
t.finally(function() os.execute('rm -rf ' .. tmp) end)

-- Open MPI refuses to run as root without these (containers), and two ranks may exceed the machine's slots.
local MPI = 'OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 ' ..
            'OMP_NUM_THREADS=1 mpirun -np 2 '

local function sh(cmd)
  local log = tmp .. '/out.txt'
  local ok = os.execute(cmd .. ' > ' .. log .. ' 2>&1')
  local f = io.open(log)
  local text = f:read('*a')
  f:close()
  return ok == 0 or ok == true, text
end

local function numbers(path)
  local v = {}
  for line in io.lines(path) do v[#v + 1] = tonumber(line) end
  return v
end

t.test('two processes train as one process with the whole batch (global InfoNCE, sync batch norm, Adam, f64)', function()
  local ok, text = sh(string.format("'%s' tests/lua/helpers/dist_two_towers.lua %s/one.txt", exe, tmp))
  t.truthy(ok, text)
  ok, text = sh(string.format("%s '%s' tests/lua/helpers/dist_two_towers.lua %s/two.txt", MPI, exe, tmp))
  t.truthy(ok, text)
  local a, b = numbers(tmp .. '/one.txt'), numbers(tmp .. '/two.txt')
  t.eq(#a, 65, 'weights and batch norm statistics written')
  t.eq(#b, #a, 'the same weights written')
  local worst = 0
  for i = 1, #a do worst = math.max(worst, math.abs(a[i] - b[i])) end
  t.truthy(worst < 1e-12, 'largest difference ' .. worst)
  local moved = 0
  for i = 1, #a do moved = math.max(moved, math.abs(a[i])) end
  t.truthy(moved > 0, 'the weights are not all zero')
end)

t.test('collectives from Lua in each of two processes', function()
  local ok, text = sh(string.format("%s '%s' tests/lua/helpers/dist_collectives.lua", MPI, exe))
  t.truthy(ok, text)
  local _, n = text:gsub('1 passed, 0 failed', '')
  t.eq(n, 2, 'both processes passed:\n' .. text)
end)

t.test('pretrain.lua as two processes: logs from process 0, a killed run resumes to the same curve', function()
  local common = string.format("%s '%s' scripts/pretrain.lua --data %s/data --max-steps 3 --checkpoint-every 4 --no-eval",
                               MPI, exe, tmp)
  local text = curve.kill_and_resume(t, sh, common, tmp .. '/whole', tmp .. '/killed', 6)
  t.truthy(text:match('processes: 2 %(global batch 64%)') ~= nil, 'says how many processes:\n' .. text)
  local _, n_done = text:gsub('stage 3 done', '')
  t.eq(n_done, 1, 'one process prints the progress')
  curve.check_same(t, tmp .. '/whole/log.jsonl', tmp .. '/killed/log.jsonl', 8)
  -- the first step's global InfoNCE is over the global batch's 64 pairs (ln 64 = 4.16 for an untrained model; its
  -- 32 rows alone would give about ln 32 = 3.47)
  local first = io.open(tmp .. '/whole/log.jsonl'):read('*l')
  local global = tonumber(first:match('"global":%s*([-%d.e+]+)'))
  t.truthy(global and global > 3.9 and global < 5.0, 'first global loss ' .. tostring(global))
  -- a one-process checkpoint has no random state for process 1
  local ok = sh(string.format("'%s' scripts/pretrain.lua --data %s/data --max-steps 1 --stages 1 --no-eval --quiet --out %s/single",
                              exe, tmp, tmp))
  t.truthy(ok, 'one-process run')
  ok, text = sh(common .. ' --out ' .. tmp .. '/single --resume')
  t.truthy(not ok and text:match('no random state for process 1') ~= nil, text)
end)

t.run()
