-- Shared pieces of prior.data: option tables checked against a spec (so a misspelt option is an error that
-- names it), paths, and shared ownership of C objects that worker threads read.
local ffi = require 'ffi'
local capi = require 'prior.capi'

local M = {}

-- Checks `opts` (nil or a table) against spec {name = kind}; kinds: 'string', 'number', 'integer', 'boolean',
-- 'table', 'function', 'any', or a table of allowed strings. Errors name the function and the option.
-- `level` is the error level of the public function's caller, counted from the caller of check_opts.
function M.check_opts(fname, opts, spec, level)
  level = (level or 2) + 1
  if opts == nil then return {} end
  if type(opts) ~= 'table' then
    error(string.format('%s: options must be a table, got %s', fname, type(opts)), level)
  end
  for k, v in pairs(opts) do
    local kind = spec[k]
    if kind == nil then
      error(string.format("%s: unknown option '%s'", fname, tostring(k)), level)
    end
    local ok
    if type(kind) == 'table' then
      ok = false
      for _, allowed in ipairs(kind) do if v == allowed then ok = true end end
      if not ok then
        local names = {}
        for _, allowed in ipairs(kind) do names[#names + 1] = string.format("'%s'", allowed) end
        error(string.format('%s: option %s must be one of %s, got %s', fname, k, table.concat(names, ', '),
                            tostring(v)), level)
      end
    elseif kind == 'integer' then
      if type(v) ~= 'number' or v ~= math.floor(v) then
        error(string.format('%s: option %s must be an integer, got %s', fname, k, tostring(v)), level)
      end
    elseif kind ~= 'any' and type(v) ~= kind then
      error(string.format('%s: option %s must be a %s, got %s', fname, k, kind, type(v)), level)
    end
  end
  return opts
end

-- A required option.
function M.need(fname, opts, name, level)
  if opts[name] == nil then error(string.format('%s: option %s is required', fname, name), (level or 2) + 1) end
  return opts[name]
end

function M.join(a, b)
  if a:sub(-1) == '/' then return a .. b end
  return a .. '/' .. b
end

function M.exists(path)
  local f = io.open(path, 'rb')
  if f then f:close() return true end
  return false
end

-- ---- shared ownership ----------------------------------------------------------------------------------
-- A dataset or tokenizer is read by a loader's worker threads, so it must be freed after every loader that
-- uses it. The Lua collector may finalise a loader and its dataset in the same cycle, in any order; a count
-- of owners per C pointer makes the last release free the object, whichever runs first.
local owners = {}

local function key(p) return tostring(ffi.cast('uintptr_t', p)) end

-- Registers p with one owner and its free function.
function M.own(p, free)
  owners[key(p)] = { n = 1, free = free, p = p }
end

function M.retain(p)
  local o = owners[key(p)]
  o.n = o.n + 1
end

function M.release(p)
  local k = key(p)
  local o = owners[k]
  if not o then return end
  o.n = o.n - 1
  if o.n == 0 then
    owners[k] = nil
    o.free(o.p)
  end
end

-- A C error as a Lua error carrying the C message.
M.status = capi.status
M.fail = capi.fail

return M
