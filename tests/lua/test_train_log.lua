-- prior.train.log: the CSV copy of a step log. Header once (also when appending, as a resumed run does), columns in
-- the given order, empty cells for absent terms, the JSON log's numbers, flushed per row, refusal to append under
-- another header.
local t = require 'prior.testing'
local runlog = require 'prior.train.log'
local plot = require 'prior.plot'
local csv = dofile('tests/lua/helpers/csv.lua')

local tmp = os.tmpname()
os.remove(tmp)
os.execute("mkdir -p '" .. tmp .. "'")
t.finally(function() os.execute("rm -rf '" .. tmp .. "'") end)

local KEYS = { 'step', 'stage', 'lr', 'total', 'global', 'proto', 'note' }
local RECORDS = {
  { step = 0, stage = 1, lr = 1e-3, total = 4.25, global = 3.5 },
  { step = 1, stage = 2, lr = 9.87654321e-4, total = 1 / 3, global = 2.75, proto = 0.125 },
  { step = 2, stage = 2, lr = 5e-4, total = 0 / 0, global = math.huge, proto = -math.huge, note = 'a, "b"' },
}

local function slurp(path)
  local f = assert(io.open(path))
  local s = f:read('*a')
  f:close()
  return s
end

t.test('header once, fixed columns, empty cells, rows flushed as written', function()
  local path = tmp .. '/a.csv'
  local w = runlog.open_csv(path, KEYS, false)
  w:write(RECORDS[1])
  -- flushed: another reader sees the row before the writer is closed (a killed run keeps it)
  t.eq(slurp(path), 'step,stage,lr,total,global,proto,note\n0,1,0.001,4.25,3.5,,\n')
  w:write(RECORDS[2])
  w:write(RECORDS[3])
  w:close()
  local header, rows, headers = csv.read(path)
  t.eq(table.concat(header, ','), table.concat(KEYS, ','))
  t.eq(headers, 1)
  t.eq(#rows, 3)
  t.eq(rows[2][3], '0.0009876543')
  t.eq(rows[2][4], '0.3333333')
  t.eq(rows[3][4], 'nan'); t.eq(rows[3][5], 'inf'); t.eq(rows[3][6], '-inf')
  t.eq(rows[3][7], 'a, "b"')
  for _, r in ipairs(rows) do t.eq(#r, #KEYS) end
end)

t.test('appending (resume) adds rows without a second header; a new file gets one', function()
  local path = tmp .. '/a.csv'
  local w = runlog.open_csv(path, KEYS, true)
  w:write(RECORDS[1])
  w:close()
  local _, rows, headers = csv.read(path)
  t.eq(headers, 1)
  t.eq(#rows, 4)
  local fresh = tmp .. '/fresh.csv' -- --resume of a run that has no CSV yet
  w = runlog.open_csv(fresh, KEYS, true)
  w:write(RECORDS[2])
  w:close()
  local header
  header, rows, headers = csv.read(fresh)
  t.eq(table.concat(header, ','), table.concat(KEYS, ','))
  t.eq(headers, 1); t.eq(#rows, 1)
  w = runlog.open_csv(fresh, KEYS, false) -- not appending: starts over
  w:close()
  t.eq(slurp(fresh), table.concat(KEYS, ',') .. '\n')
end)

t.test('appending under other columns is refused', function()
  t.raises(function() runlog.open_csv(tmp .. '/a.csv', { 'step', 'total' }, true) end, 'has the columns')
  t.raises(function() runlog.open_csv(tmp .. '/b.csv', {}, false) end, 'list of column names')
end)

t.test('the CSV holds the JSON log\'s values', function()
  local j, c = runlog.open(tmp .. '/log.jsonl', false), runlog.open_csv(tmp .. '/log.csv', KEYS, false)
  for i = 1, 2 do
    j:write(RECORDS[i], KEYS)
    c:write(RECORDS[i])
  end
  j:close()
  c:close()
  local recs = plot.read_jsonl(tmp .. '/log.jsonl')
  local header, rows = csv.read(tmp .. '/log.csv')
  t.eq(#rows, #recs)
  for i, rec in ipairs(recs) do
    for col, k in ipairs(header) do
      if rec[k] == nil then
        t.eq(rows[i][col], '', k .. ' absent')
      else
        t.eq(tonumber(rows[i][col]), rec[k], string.format('row %d %s', i, k))
      end
    end
  end
end)

t.run()
