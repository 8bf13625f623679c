-- A small CSV reader for the tests: one record per line, comma separated, double quotes around cells that hold
-- commas or quotes, "" for a quote inside them (RFC 4180 without line breaks inside cells).
--   local csv = dofile('tests/lua/helpers/csv.lua')
--   csv.read(path) -> header (list of names), rows (each a list of cell strings), number of header lines seen
local M = {}

-- Splits one record; returns its cells, or nil and why.
function M.split(line)
  local cells, i, n = {}, 1, #line
  while true do
    if line:sub(i, i) == '"' then
      local buf, j = {}, i + 1
      while true do
        local q = line:find('"', j, true)
        if not q then return nil, 'unterminated quote' end
        buf[#buf + 1] = line:sub(j, q - 1)
        if line:sub(q + 1, q + 1) == '"' then
          buf[#buf + 1] = '"'
          j = q + 2
        else
          i = q + 1
          break
        end
      end
      cells[#cells + 1] = table.concat(buf)
      if i <= n and line:sub(i, i) ~= ',' then return nil, 'text after a closing quote' end
    else
      local c = line:find(',', i, true) or n + 1
      cells[#cells + 1] = line:sub(i, c - 1)
      i = c
    end
    if i > n then return cells end
    i = i + 1 -- past the comma
    if i > n then cells[#cells + 1] = '' return cells end
  end
end

function M.read(path)
  local header, rows, headers = nil, {}, 0
  local n = 0
  for line in io.lines(path) do
    n = n + 1
    local cells, why = M.split(line)
    if not cells then error(string.format('%s line %d: %s', path, n, why), 2) end
    if not header then
      header = cells
      headers = 1
    else
      if table.concat(cells, ',') == table.concat(header, ',') then headers = headers + 1 end
      rows[#rows + 1] = cells
    end
  end
  return header or {}, rows, headers
end

return M
