-- The tensor handle: a metatype over `prior_tensor_handle` (one pointer to a C prior_tensor).
--
-- Tensor memory is owned by the C runtime. Each handle holds one C reference, released by the finaliser or
-- earlier by :free(). The Lua collector cannot see how large a tensor is, so the binding counts the bytes it
-- has wrapped and runs a full collection after every GC_BYTES of new tensors: dropped tensors are returned to
-- the caching allocator long before memory runs out.
--
-- Conventions (the same everywhere in prior's Lua API): dims and positions given as Lua numbers are 1-based,
-- and negative ones count from the end (-1 is the last). Values stored inside tensors are not changed: class
-- labels, token ids and the result of argmax are 0-based, exactly as in PyTorch and the C runtime.
local ffi = require 'ffi'
local capi = require 'prior.capi'
local C = capi.C

local M = {}
local Tensor = {}   -- methods, shared with prior.* functions by prior/ops.lua
local getters = {}  -- properties: t.grad, t.shape
M.methods, M.getters = Tensor, getters

local handle_t = ffi.typeof('prior_tensor_handle')
local i64_arr = ffi.typeof('int64_t[?]')
local f64_box = ffi.typeof('double[1]')
M.handle_t = handle_t

local GC_BYTES = 256 * 1024 * 1024
local bytes_since_gc = 0

local DTYPES = { f32 = 0, f64 = 1, i32 = 2, i64 = 3, u8 = 4, bool = 5, bf16 = 6, f16 = 7 }
local DTYPE_NAMES = { [0] = 'f32', 'f64', 'i32', 'i64', 'u8', 'bool', 'bf16', 'f16' }
M.DTYPE_NAMES = DTYPE_NAMES

function M.is_tensor(x)
  return ffi.istype(handle_t, x)
end
local is_tensor = M.is_tensor

-- Takes over a new C reference (or raises the C error when it is NULL).
local function wrap(p, level)
  if p == nil then capi.fail((level or 1) + 1) end
  local t = handle_t(p)
  capi.check_interrupt((level or 1) + 1)
  local n = tonumber(C.prior_tensor_nbytes(p))
  bytes_since_gc = bytes_since_gc + n
  if bytes_since_gc > GC_BYTES then
    bytes_since_gc = 0
    collectgarbage()
  end
  return t
end
M.wrap = wrap

-- Argument checking: messages name the function, the argument and what was wrong.
local function argerror(fname, argn, what)
  error(string.format('%s: argument %s %s', fname, tostring(argn), what), 3)
end
M.argerror = argerror

local function check(x, fname, argn)
  if not is_tensor(x) then
    error(string.format('%s: argument %s must be a tensor, got %s', fname, tostring(argn), type(x)), 3)
  end
  local h = x.h
  if h == nil then error(string.format('%s: argument %s is a tensor that was freed', fname, tostring(argn)), 3) end
  return h
end
M.check = check

-- An optional tensor argument: nil stays NULL.
function M.opt(x, fname, argn)
  if x == nil then return nil end
  if not is_tensor(x) then
    error(string.format('%s: argument %s must be a tensor or nil, got %s', fname, tostring(argn), type(x)), 3)
  end
  if x.h == nil then error(string.format('%s: argument %s is a tensor that was freed', fname, tostring(argn)), 3) end
  return x.h
end

function M.dtype_of(name, fname, argn)
  if name == nil then return 0 end
  if type(name) == 'number' and DTYPE_NAMES[name] then return name end
  if type(name) == 'string' then
    local d = DTYPES[name] or tonumber(ffi.C.prior_dtype_from_name(name))
    if d and d >= 0 then return d end
  end
  error(string.format("%s: argument %s: unknown dtype %s (use 'f32', 'f64', 'i64', 'i32', 'u8', 'bool', "
                      .. "'bf16' or 'f16')", fname or 'prior', tostring(argn or 'dtype'), tostring(name)), 3)
end

function M.device_of(name, fname)
  local d = ffi.new('prior_device')
  if name == nil then return C.prior_cpu() end
  if type(name) ~= 'string' or C.prior_device_parse(name, d) ~= 0 then
    error(string.format("%s: unknown device %s (use 'cpu' or 'cuda:N')", fname or 'prior', tostring(name)), 3)
  end
  return d
end

-- A 1-based (negative from the end) dim into a 0-based C dim for a tensor of `ndim` dims; `extra` allows
-- one past the end (unsqueeze).
function M.cdim(d, ndim, fname, argn, extra)
  if type(d) ~= 'number' or d ~= math.floor(d) then
    error(string.format('%s: argument %s (dim) must be an integer, got %s', fname, tostring(argn), tostring(d)), 3)
  end
  local n = ndim + (extra or 0)
  if d == 0 or d > n or d < -n then
    error(string.format('%s: argument %s: dim %d is out of range for a tensor of %d dims (dims count from 1, '
                        .. 'or from -1 at the end)', fname, tostring(argn), d, ndim), 3)
  end
  return d > 0 and d - 1 or n + d
end

-- A shape from a table {2, 3} or from numbers (2, 3); returns n and an int64_t array.
function M.shape_args(fname, first, ...)
  local dims = type(first) == 'table' and first or { first, ... }
  if first == nil then dims = {} end
  local n = #dims
  if n > 8 then error(string.format('%s: at most 8 dims, got %d', fname, n), 3) end
  local arr = i64_arr(math.max(n, 1))
  for i = 1, n do
    local v = dims[i]
    if type(v) ~= 'number' or v ~= math.floor(v) then
      error(string.format('%s: shape entry %d must be an integer, got %s', fname, i, tostring(v)), 3)
    end
    arr[i - 1] = v
  end
  return n, arr
end

-- ---- queries ----------------------------------------------------------------------------------------------
function Tensor.dim(t) return tonumber(check(t, 'dim', 1).ndim) end
function Tensor.numel(t) return tonumber(C.prior_tensor_numel(check(t, 'numel', 1))) end
function Tensor.dtype(t) return DTYPE_NAMES[check(t, 'dtype', 1).dtype] end
function Tensor.device(t) return ffi.string(C.prior_device_name(check(t, 'device', 1).device)) end
function Tensor.is_contiguous(t) return C.prior_tensor_is_contiguous(check(t, 'is_contiguous', 1)) ~= 0 end
function Tensor.is_floating(t) return C.prior_dtype_is_floating(check(t, 'is_floating', 1).dtype) ~= 0 end

-- t:size() -> {2, 3}; t:size(d) -> the size of dim d.
function Tensor.size(t, d)
  local h = check(t, 'size', 1)
  if d ~= nil then return tonumber(h.shape[M.cdim(d, h.ndim, 'size', 2)]) end
  local s = {}
  for i = 0, h.ndim - 1 do s[i + 1] = tonumber(h.shape[i]) end
  return s
end
getters.shape = function(t) return Tensor.size(t) end

function Tensor.stride(t, d)
  local h = check(t, 'stride', 1)
  if d ~= nil then return tonumber(h.strides[M.cdim(d, h.ndim, 'stride', 2)]) end
  local s = {}
  for i = 0, h.ndim - 1 do s[i + 1] = tonumber(h.strides[i]) end
  return s
end

function Tensor.item(t)
  local h = check(t, 'item', 1)
  local out = f64_box()
  capi.status(C.prior_tensor_item(h, out))
  if h.dtype == 5 then return out[0] ~= 0 end
  return out[0]
end

-- All values as nested Lua tables (numbers; booleans for bool tensors). A 0-dim tensor gives a number.
function Tensor.totable(t)
  local h = check(t, 'totable', 1)
  local n = tonumber(C.prior_tensor_numel(h))
  local buf = ffi.new('double[?]', math.max(n, 1))
  capi.status(C.prior_tensor_to_f64_array(h, buf))
  local isbool = h.dtype == 5
  local function conv(v) if isbool then return v ~= 0 end return v end
  if h.ndim == 0 then return conv(buf[0]) end
  local pos = 0
  local function build(d)
    local out = {}
    local size = tonumber(h.shape[d])
    for i = 1, size do
      if d == h.ndim - 1 then
        out[i] = conv(buf[pos]); pos = pos + 1
      else
        out[i] = build(d + 1)
      end
    end
    return out
  end
  return build(0)
end

function Tensor.free(t)
  if is_tensor(t) and t.h ~= nil then
    C.prior_tensor_free(t.h)
    t.h = nil
  end
end

-- ---- autograd ---------------------------------------------------------------------------------------------
getters.grad = function(t)
  local h = check(t, 'grad', 1)
  if h.grad == nil then return nil end
  return wrap(C.prior_tensor_retain(h.grad))
end
getters.grad_fn = function(t)
  local h = check(t, 'grad_fn', 1)
  if h.grad_fn == nil then return nil end
  return ffi.string(h.grad_fn.name)
end

-- t:requires_grad() -> boolean; t:requires_grad(true) sets it and returns t.
function Tensor.requires_grad(t, flag)
  local h = check(t, 'requires_grad', 1)
  if flag == nil then return h.requires_grad ~= 0 end
  capi.status(C.prior_tensor_set_requires_grad(h, flag and 1 or 0))
  return t
end
function Tensor.is_leaf(t) return check(t, 'is_leaf', 1).grad_fn == nil end
function Tensor.detach(t) return wrap(C.prior_detach(check(t, 'detach', 1))) end
function Tensor.zero_grad(t) C.prior_tensor_zero_grad(check(t, 'zero_grad', 1)); return t end

-- t:backward([grad], [{retain_graph=true}])
function Tensor.backward(t, grad, opts)
  local h = check(t, 'backward', 1)
  if type(grad) == 'table' and opts == nil then grad, opts = nil, grad end
  local g = M.opt(grad, 'backward', 2)
  capi.status(C.prior_backward(h, g, (opts and opts.retain_graph) and 1 or 0))
end

-- ---- copies, conversions and fills ------------------------------------------------------------------------
function Tensor.to(t, what)
  local h = check(t, 'to', 1)
  if type(what) == 'string' and (what == 'cpu' or what:match('^cuda')) then
    return wrap(C.prior_tensor_to_device(h, M.device_of(what, 'to')))
  end
  return wrap(C.prior_to_dtype(h, M.dtype_of(what, 'to', 2)))
end
function Tensor.float(t) return Tensor.to(t, 'f32') end
function Tensor.double(t) return Tensor.to(t, 'f64') end
function Tensor.long(t) return Tensor.to(t, 'i64') end
function Tensor.int(t) return Tensor.to(t, 'i32') end
function Tensor.byte(t) return Tensor.to(t, 'u8') end
function Tensor.bool(t) return Tensor.to(t, 'bool') end
function Tensor.cpu(t) return Tensor.to(t, 'cpu') end
function Tensor.cuda(t, i) return Tensor.to(t, 'cuda:' .. (i or 0)) end

-- In-place fills and copies (no autograd); they return t.
function Tensor.fill_(t, v)
  if type(v) ~= 'number' then argerror('fill_', 2, 'must be a number, got ' .. type(v)) end
  capi.status(C.prior_tensor_fill_(check(t, 'fill_', 1), v)); return t
end
function Tensor.zero_(t) return Tensor.fill_(t, 0) end
function Tensor.copy_(t, src)
  capi.status(C.prior_tensor_copy_(check(t, 'copy_', 1), check(src, 'copy_', 2))); return t
end
function Tensor.uniform_(t, a, b)
  capi.status(C.prior_tensor_uniform_(check(t, 'uniform_', 1), a or 0, b or 1)); return t
end
function Tensor.normal_(t, mean, std)
  capi.status(C.prior_tensor_normal_(check(t, 'normal_', 1), mean or 0, std or 1)); return t
end
function Tensor.bernoulli_(t, p)
  capi.status(C.prior_tensor_bernoulli_(check(t, 'bernoulli_', 1), p or 0.5)); return t
end

-- ---- the metatype -----------------------------------------------------------------------------------------
local index_get, index_set -- from prior/indexing.lua, set by install()

local mt = {
  __index = function(t, k)
    local m = Tensor[k]
    if m ~= nil then return m end
    local g = getters[k]
    if g ~= nil then return g(t) end
    if type(k) == 'number' or type(k) == 'table' then return index_get(t, k) end
    return nil
  end,
  __newindex = function(t, k, v)
    if type(k) == 'number' or type(k) == 'table' then return index_set(t, k, v) end
    error(string.format("cannot set field '%s' of a tensor", tostring(k)), 2)
  end,
  __gc = function(t)
    if t.h ~= nil then
      C.prior_tensor_free(t.h)
      t.h = nil
    end
  end,
  __len = function(t)
    local h = check(t, '#', 1)
    if h.ndim == 0 then error('#: a 0-dim tensor has no length', 2) end
    return tonumber(h.shape[0])
  end,
}
M.metatable = mt

-- Operators and printing are filled in by prior/ops.lua and prior/print.lua before the metatype is fixed.
function M.install(ops)
  index_get, index_set = ops.index_get, ops.index_set
  for k, v in pairs(ops.meta) do mt[k] = v end
  ffi.metatype(handle_t, mt)
end

return M
