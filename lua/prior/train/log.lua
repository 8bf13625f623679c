-- A run's step log (JSON lines, one object per step, flushed each line so a killed run keeps what it logged)
-- and its progress line (ETA, step time, loss terms).
local M = {}

local function json_value(v)
  if type(v) == 'number' then
    if v ~= v or v == math.huge or v == -math.huge then return 'null' end
    return string.format('%.7g', v)
  end
  return string.format('%q', tostring(v))
end

-- open(path, append): a writer with :write(record_table, key_order) and :close().
function M.open(path, append)
  local f, err = io.open(path, append and 'a' or 'w')
  if not f then error('log: cannot open ' .. path .. ': ' .. tostring(err), 2) end
  local w = { f = f }
  function w:write(rec, keys)
    local parts = {}
    for _, k in ipairs(keys) do
      if rec[k] ~= nil then parts[#parts + 1] = string.format('"%s":%s', k, json_value(rec[k])) end
    end
    self.f:write('{', table.concat(parts, ','), '}\n')
    self.f:flush()
  end
  function w:close() self.f:close() end
  return w
end

local function hms(s)
  s = math.max(0, math.floor(s + 0.5))
  return string.format('%d:%02d:%02d', math.floor(s / 3600), math.floor(s / 60) % 60, s % 60)
end
M.hms = hms

-- A progress line: "stage 2 [#####.....] 120/300 steps  0.31 s/step  ETA 0:00:56  total 3.21 global 0.41 ..."
function M.progress(stage, done, total, step_time, eta, terms, order)
  local width = 20
  local filled = math.floor(width * done / math.max(total, 1))
  local parts = {}
  for _, k in ipairs(order) do
    if terms[k] then parts[#parts + 1] = string.format('%s %.4g', k, terms[k]) end
  end
  return string.format('stage %d [%s%s] %d/%d  %.2f s/step  ETA %s  %s', stage, string.rep('#', filled),
                       string.rep('.', width - filled), done, total, step_time, hms(eta), table.concat(parts, '  '))
end

return M
