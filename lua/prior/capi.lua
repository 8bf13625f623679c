-- The C runtime through LuaJIT's FFI: the declarations generated from runtime/include/prior at build time,
-- a symbol table that names what is missing instead of failing obscurely, and the error plumbing that turns
-- a NULL/status from C into a Lua error carrying the C message.
local ffi = require 'ffi'

local ok, cdef = pcall(require, 'prior.prior_cdef')
if not ok then
  error('prior: the generated FFI declarations (prior/prior_cdef.lua) were not found; build the project '
        .. 'first (cmake --build build).\n' .. tostring(cdef), 0)
end
ffi.cdef(cdef)
-- A Lua tensor is a one-pointer box with a metatype: the box carries the finaliser, and every property
-- (.grad, .shape) goes through __index because the box has no other fields.
ffi.cdef [[ typedef struct prior_tensor_handle { prior_tensor *h; } prior_tensor_handle; ]]

local raw = ffi.C
local M = {}

-- Whether the runtime library defines symbol `name` (declared headers may run ahead of the library).
function M.has_symbol(name)
  return (pcall(function() return raw[name] end))
end

-- C functions by name, looked up once; a missing one is a clear Lua error at call time.
M.C = setmetatable({}, {
  __index = function(t, name)
    local ok2, fn = pcall(function() return raw[name] end)
    if not ok2 then
      error(string.format('%s is not available: the runtime library in this build does not define it', name), 0)
    end
    rawset(t, name, fn)
    return fn
  end,
})

function M.message()
  return ffi.string(raw.prior_error_message())
end

-- Raises the runtime's current error message as a Lua error at `level` (default: the caller's caller).
function M.fail(level)
  error(M.message(), (level or 2) + 1)
end

-- Ctrl-C seen by C code that does not poll the flag itself: stop here, after the call that was running.
function M.check_interrupt(level)
  if raw.prior_interrupt_pending() ~= 0 then
    raw.prior_interrupt_clear()
    debug.sethook()
    error('interrupted', (level or 2) + 1)
  end
end

-- A prior_status from C: OK passes, anything else becomes a Lua error.
function M.status(s, level)
  if s ~= 0 then M.fail((level or 2) + 1) end
  M.check_interrupt((level or 2) + 1)
end

return M
