-- Documentation for `?name` in the REPL, read from docs/lua-api.md (the one source of the reference: the
-- REPL shows the same text as the file). Each "### signature" heading starts an entry that runs to the next
-- heading; each "## module" heading starts a section whose intro is the module's entry.
local M = {}

local entries, order, sections

local function key_of(signature)
  -- "prior.tensor(data, [opts])" -> "prior.tensor"; "t:size([dim])" -> "t:size"
  return (signature:match('^`?([%w_%.:]+)'))
end

local function load()
  if entries then return true end
  local paths = PRIOR_BUILD and PRIOR_BUILD.doc_files or {}
  local f
  for _, p in ipairs(paths) do
    f = io.open(p, 'r')
    if f then break end
  end
  if not f then return false end
  entries, order, sections = {}, {}, {}
  local current, section
  for line in f:lines() do
    local h3 = line:match('^###%s+(.+)$')
    local h2 = not h3 and line:match('^##%s+(.+)$')
    if h3 then
      local key = key_of(h3:gsub('`', ''))
      current = { title = h3:gsub('`', ''), lines = {} }
      if key then
        entries[key] = current
        order[#order + 1] = key
        if section then section.members[#section.members + 1] = key end
      end
    elseif h2 then
      local key = key_of(h2:gsub('`', ''))
      current = { title = h2:gsub('`', ''), lines = {}, members = {} }
      section = current
      sections[#sections + 1] = current
      if key then entries[key] = current end
    elseif current then
      current.lines[#current.lines + 1] = line
    end
  end
  f:close()
  return true
end

local function render(e)
  local lines = { e.title }
  for _, l in ipairs(e.lines) do
    if not l:match('^```') then lines[#lines + 1] = '  ' .. l end
  end
  while #lines > 1 and lines[#lines]:match('^%s*$') do lines[#lines] = nil end
  if e.members and #e.members > 0 then
    lines[#lines + 1] = '  members: ' .. table.concat(e.members, ', ')
  end
  return table.concat(lines, '\n')
end

-- The entry for `name` as text: exact ("prior.tensor", "t:size"), then with "prior." in front, then any entry
-- whose last component is name ("size" finds "t:size").
function M.lookup(name)
  name = (name or ''):gsub('^%s+', ''):gsub('%s+$', '')
  if not load() then return 'no documentation: docs/lua-api.md was not found' end
  if name == '' then
    local lines = { 'prior Lua API. ?name shows one entry (e.g. ?prior.tensor, ?t:size, ?prior.nn.Linear). Sections:' }
    for _, s in ipairs(sections) do lines[#lines + 1] = '  ' .. s.title end
    return table.concat(lines, '\n')
  end
  local e = entries[name] or entries['prior.' .. name]
  -- A method on some object (x:size, m:parameters): the tensor entry, then the function of that name.
  local method = name:match('^[%w_]+:([%w_]+)$')
  if not e and method then e = entries['t:' .. method] or entries['prior.' .. method] end
  if e then return render(e) end
  local hits = {}
  for _, k in ipairs(order) do
    if k:match('[%.:]' .. name:gsub('%p', '%%%0') .. '$') then hits[#hits + 1] = k end
  end
  if #hits == 1 then return render(entries[hits[1]]) end
  if #hits > 1 then return 'several entries match: ' .. table.concat(hits, ', ') end
  return 'no documentation for ' .. name
end

-- Every documented name (tests check that each public function has an entry).
function M.names()
  load()
  return entries or {}
end

return M
