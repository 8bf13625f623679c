-- The Lua half of the REPL: TAB completion, printing of results, and `?name` help.
local M = {}

local KEYWORDS = { 'and', 'break', 'do', 'else', 'elseif', 'end', 'false', 'for', 'function', 'if', 'in', 'local',
                   'nil', 'not', 'or', 'repeat', 'return', 'then', 'true', 'until', 'while' }

local function tensor_module()
  local ok, T = pcall(require, 'prior.tensor')
  return ok and T or nil
end

-- Adds the string keys of table t (and of its metatables' __index tables, or of the class chain when
-- __index is a function) to `into`.
local function collect_keys(v, into, depth)
  depth = depth or 0
  if depth > 8 then return end
  local T = tensor_module()
  if type(v) == 'cdata' and T and T.is_tensor(v) then
    for k in pairs(T.methods) do into[k] = true end
    for k in pairs(T.getters) do into[k] = true end
    return
  end
  if type(v) == 'table' then
    for k in pairs(v) do
      if type(k) == 'string' then into[k] = true end
    end
    -- Module instances keep parameters and submodules in registries read by __index.
    for _, reg in ipairs({ '_params', '_buffers', '_modules' }) do
      local r = rawget(v, reg)
      if type(r) == 'table' then for k in pairs(r) do if type(k) == 'string' then into[k] = true end end end
    end
  end
  if type(v) ~= 'table' and type(v) ~= 'userdata' then
    if type(v) == 'string' then collect_keys(string, into, depth + 1) end
    return
  end
  local mt = getmetatable(v)
  if type(mt) ~= 'table' then return end
  if type(mt.__index) == 'table' then
    collect_keys(mt.__index, into, depth + 1)
  elseif mt.__index ~= nil and mt ~= v then
    collect_keys(mt, into, depth + 1)
  end
end

local function is_identifier(s) return s:match('^[%a_][%w_]*$') ~= nil end

-- complete('prior.nn.Li') -> {'prior.nn.Linear'}; complete('t:si') -> {'t:size'}.
function M.complete(text)
  local prefix, sep, partial = text:match('^(.*)([%.:])([%w_]*)$')
  local out, seen = {}, {}
  local function add(s) if not seen[s] then seen[s] = true; out[#out + 1] = s end end
  if prefix == nil then
    partial = text
    local keys = {}
    collect_keys(_G, keys)
    for k in pairs(keys) do if k:sub(1, #partial) == partial and is_identifier(k) then add(k) end end
    for _, k in ipairs(KEYWORDS) do if k:sub(1, #partial) == partial then add(k) end end
    table.sort(out)
    return out
  end
  -- Walk the prefix through plain field lookups (no calls; getters of tensors are fine to run).
  local v = _G
  for part, s in (prefix .. '.'):gmatch('([^%.:]+)([%.:])') do
    if not is_identifier(part) then return out end
    local ok, nv = pcall(function() return v[part] end)
    if not ok or nv == nil then return out end
    v = nv
  end
  local keys = {}
  collect_keys(v, keys)
  for k in pairs(keys) do
    if is_identifier(k) and k:sub(1, #partial) == partial and k:sub(1, 2) ~= '__' then
      if sep == ':' then
        local ok, f = pcall(function() return v[k] end)
        if ok and type(f) == 'function' then add(prefix .. sep .. k) end
      else
        add(prefix .. sep .. k)
      end
    end
  end
  table.sort(out)
  return out
end

-- ---- printing results ------------------------------------------------------------------------------------------
local function short(v, depth, seen)
  local tv = type(v)
  if tv == 'string' then return string.format('%q', v) end
  if tv ~= 'table' then return tostring(v) end
  local mt = getmetatable(v)
  if mt and mt.__tostring then return tostring(v) end
  if seen[v] or depth > 2 then return tostring(v) end
  seen[v] = true
  local parts, n = {}, 0
  for i, x in ipairs(v) do
    n = n + 1
    if n > 20 then parts[#parts + 1] = '...'; break end
    parts[#parts + 1] = short(x, depth + 1, seen)
  end
  local keys = {}
  for k in pairs(v) do
    if not (type(k) == 'number' and k >= 1 and k <= #v and k % 1 == 0) then keys[#keys + 1] = k end
  end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  for i, k in ipairs(keys) do
    if i > 20 then parts[#parts + 1] = '...'; break end
    local ks = (type(k) == 'string' and is_identifier(k)) and k or ('[' .. short(k, depth + 1, seen) .. ']')
    parts[#parts + 1] = ks .. ' = ' .. short(v[k], depth + 1, seen)
  end
  return '{' .. table.concat(parts, ', ') .. '}'
end

function M.print_results(n, ...)
  for i = 1, n do
    local v = select(i, ...)
    print(short(v, 0, {}))
  end
end

-- ---- help ------------------------------------------------------------------------------------------------------
function M.help(name)
  local doc = require 'prior.doc'
  io.write(doc.lookup(name), '\n')
end

return M
