-- A run's step log (JSON lines, one object per step, flushed each line so a killed run keeps what it logged), the
-- same records as CSV (fixed columns, for spreadsheets and pandas), and its progress line (ETA, step time, loss terms).
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

-- A CSV cell: numbers as in the JSON log ('nan', 'inf', '-inf' where JSON has null), strings quoted when needed.
local function csv_value(v)
  if v == nil then return '' end
  if type(v) == 'number' then
    if v ~= v then return 'nan' end
    if v == math.huge then return 'inf' end
    if v == -math.huge then return '-inf' end
    return string.format('%.7g', v)
  end
  v = tostring(v)
  if v:find('[,"\r\n]') then v = '"' .. v:gsub('"', '""') .. '"' end
  return v
end

-- open_csv(path, columns, append): a writer with :write(record_table) and :close(). The header line (the column
-- names) is written once: when the file is new or empty. Appending to a file whose header is not these columns is
-- an error (its rows would not line up). A column the record lacks (a loss term of a later stage) is an empty cell.
function M.open_csv(path, columns, append)
  if type(columns) ~= 'table' or #columns == 0 then error('log: open_csv needs a list of column names', 2) end
  local header = {}
  for i, k in ipairs(columns) do header[i] = csv_value(k) end
  header = table.concat(header, ',')
  local existing = append and io.open(path, 'r')
  local first = existing and existing:read('*l')
  if existing then existing:close() end
  if first and first ~= '' and first:gsub('\r$', '') ~= header then
    error(string.format('log: %s has the columns "%s", this run writes "%s"', path, first, header), 2)
  end
  local f, err = io.open(path, append and 'a' or 'w')
  if not f then error('log: cannot open ' .. path .. ': ' .. tostring(err), 2) end
  local w = { f = f, columns = columns }
  if f:seek('end') == 0 then
    f:write(header, '\n')
    f:flush()
  end
  function w:write(rec)
    local cells = {}
    for i, k in ipairs(self.columns) do cells[i] = csv_value(rec[k]) end
    self.f:write(table.concat(cells, ','), '\n')
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
