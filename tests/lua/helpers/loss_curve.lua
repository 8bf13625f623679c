-- Loss curves of scripts/pretrain.lua runs, for the resume tests:
--   local curve = dofile('tests/lua/helpers/loss_curve.lua')
--   curve.totals(path)                          -> step -> the total loss as written in log.jsonl (text: exact)
--   curve.check_same(t, path_a, path_b, last)   -- steps 0..last have the same total in both logs
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

return M
