-- Loss curves of scripts/pretrain.lua runs, for the resume tests:
--   local curve = dofile('tests/lua/helpers/loss_curve.lua')
--   curve.totals(path)                          -> step -> the total loss as written in log.jsonl (text: exact)
--   curve.check_same(t, path_a, path_b, last)   -- steps 0..last have the same total in both logs
--   curve.kill_and_resume(t, run, common, whole, killed, stop_after)
--       -- run(common .. ' --out DIR ...') -> ok, text: an uninterrupted run into `whole`, a run into `killed` stopped
--       -- with --stop-after, then resumed; returns the resumed run's text
local M = {}

-- The last record of each step counts: a resumed run appends the steps it repeats after its checkpoint.
function M.totals(path)
  local out = {}
  for line in io.lines(path) do
    local step, total = line:match('"step":%s*(%d+).-"total":%s*([^,}]+)')
    if step then out[tonumber(step)] = total end
  end
  return out
end

function M.check_same(t, path_a, path_b, last)
  local a, b = M.totals(path_a), M.totals(path_b)
  for step = 0, last do
    t.truthy(a[step] ~= nil and a[step] == b[step],
             string.format('step %d: total %s uninterrupted, %s resumed', step, tostring(a[step]), tostring(b[step])))
  end
  return a, b
end

function M.kill_and_resume(t, run, common, whole, killed, stop_after)
  local ok, text = run(common .. ' --out ' .. whole)
  t.truthy(ok, 'uninterrupted run:\n' .. text)
  ok = run(common .. ' --out ' .. killed .. ' --stop-after ' .. stop_after)
  t.truthy(not ok, 'the stopped run exits non-zero')
  ok, text = run(common .. ' --out ' .. killed .. ' --resume')
  t.truthy(ok, 'resumed run:\n' .. text)
  return text
end

return M
