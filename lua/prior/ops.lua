-- Elementwise, reduction and shape ops as prior.* functions and tensor methods, the operators of the
-- metatype, and indexing. Every function checks its arguments and names the one at fault.
local ffi = require 'ffi'
local capi = require 'prior.capi'
local T = require 'prior.tensor'
local C = capi.C
local wrap, check, cdim = T.wrap, T.check, T.cdim
local Tensor = T.methods

local F = {}      -- prior.* functions
local meta = {}   -- operator metamethods

-- Registers fn as prior.<name> and (unless method == false) as t:<name>(...).
local function def(name, fn, method)
  F[name] = fn
  if method ~= false then Tensor[name] = fn end
end
F.def = def

-- ---- elementwise --------------------------------------------------------------------------------------------
local function scalar_like(h, v)
  return wrap(C.prior_tensor_scalar(v, h.dtype, h.device), 3)
end

local function binary(name, both, with_scalar, scalar_with)
  def(name, function(a, b)
    local ta, tb = T.is_tensor(a), T.is_tensor(b)
    if ta and tb then return wrap(both(check(a, name, 1), check(b, name, 2)), 2) end
    if ta and type(b) == 'number' then
      local ha = check(a, name, 1)
      if with_scalar then return wrap(with_scalar(ha, b), 2) end
      return wrap(both(ha, scalar_like(ha, b).h), 2)
    end
    if tb and type(a) == 'number' then
      local hb = check(b, name, 2)
      if scalar_with then return wrap(scalar_with(hb, a), 2) end
      return wrap(both(scalar_like(hb, a).h, hb), 2)
    end
    if not ta and type(a) ~= 'number' then
      T.argerror(name, 1, 'must be a tensor or a number, got ' .. type(a))
    end
    T.argerror(name, 2, 'must be a tensor or a number, got ' .. type(b))
  end)
end

binary('add', function(a, b) return C.prior_add(a, b) end, function(a, s) return C.prior_add_scalar(a, s) end,
       function(b, s) return C.prior_add_scalar(b, s) end)
binary('sub', function(a, b) return C.prior_sub(a, b) end, function(a, s) return C.prior_add_scalar(a, -s) end,
       function(b, s) return C.prior_rsub_scalar(b, s) end)
binary('mul', function(a, b) return C.prior_mul(a, b) end, function(a, s) return C.prior_mul_scalar(a, s) end,
       function(b, s) return C.prior_mul_scalar(b, s) end)
binary('div', function(a, b) return C.prior_div(a, b) end,
       function(a, s)
         if C.prior_dtype_is_floating(a.dtype) ~= 0 then return C.prior_mul_scalar(a, 1 / s) end
         local st = C.prior_tensor_scalar(s, a.dtype, a.device)
         if st == nil then return nil end
         local r = C.prior_div(a, st)
         C.prior_tensor_free(st)
         return r
       end,
       function(b, s) return C.prior_rdiv_scalar(b, s) end)
binary('pow', function(a, b) return C.prior_pow(a, b) end, function(a, s) return C.prior_pow_scalar(a, s) end)
binary('maximum', function(a, b) return C.prior_maximum(a, b) end)
binary('minimum', function(a, b) return C.prior_minimum(a, b) end)
for _, cmp in ipairs({ 'eq', 'ne', 'lt', 'le', 'gt', 'ge' }) do
  local cname = 'prior_' .. cmp
  binary(cmp, function(a, b) return C[cname](a, b) end)
end

for _, u in ipairs({ 'neg', 'exp', 'log', 'sqrt', 'rsqrt', 'abs', 'sigmoid', 'tanh', 'relu', 'gelu', 'square',
                     'sign' }) do
  local cname = 'prior_' .. u
  def(u, function(x) return wrap(C[cname](check(x, u, 1)), 2) end)
end

-- clamp(x, min, max): nil leaves a side open.
def('clamp', function(x, lo, hi)
  local h = check(x, 'clamp', 1)
  if lo ~= nil and type(lo) ~= 'number' then T.argerror('clamp', 2, '(min) must be a number or nil') end
  if hi ~= nil and type(hi) ~= 'number' then T.argerror('clamp', 3, '(max) must be a number or nil') end
  return wrap(C.prior_clamp(h, lo or 0 / 0, hi or 0 / 0), 1)
end)

-- where(cond, a, b): a and b may be numbers.
def('where', function(cond, a, b)
  local hc = check(cond, 'where', 1)
  local ref = T.is_tensor(a) and a or b
  if not T.is_tensor(ref) then T.argerror('where', 2, 'or 3 must be a tensor (both are numbers)') end
  local ha = T.is_tensor(a) and check(a, 'where', 2) or scalar_like(ref.h, a).h
  local hb = T.is_tensor(b) and check(b, 'where', 3) or scalar_like(ref.h, b).h
  return wrap(C.prior_where(hc, ha, hb), 1)
end)

-- ---- reductions ---------------------------------------------------------------------------------------------
-- (x), (x, dim), (x, {dims}), (x, dim, keepdim), (x, {dim=..., keepdim=...})
local function reduce_args(fname, x, dims, keepdim)
  local h = check(x, fname, 1)
  if type(dims) == 'table' and #dims == 0 and (dims.dim ~= nil or dims.keepdim ~= nil) then
    dims, keepdim = dims.dim, dims.keepdim
  end
  local list = type(dims) == 'table' and dims or (dims ~= nil and { dims } or {})
  local arr = ffi.new('int64_t[?]', math.max(#list, 1))
  for i, d in ipairs(list) do arr[i - 1] = cdim(d, h.ndim, fname, 2) end
  return h, #list, arr, keepdim and 1 or 0
end

for _, r in ipairs({ 'sum', 'mean', 'logsumexp', 'norm' }) do
  local cname = 'prior_' .. r
  def(r, function(x, dims, keepdim)
    local h, n, arr, k = reduce_args(r, x, dims, keepdim)
    return wrap(C[cname](h, n, arr, k), 1)
  end)
end

-- max(x) -> 0-dim max; max(x, dim [, keepdim]) -> values, indices (0-based positions, as argmax).
local function maxmin(name)
  local call, all = C['prior_' .. name], C['prior_' .. name .. '_all']
  def(name, function(x, dim, keepdim)
    local h = check(x, name, 1)
    if dim == nil then return wrap(all(h), 1) end
    if T.is_tensor(dim) then return F[name == 'max' and 'maximum' or 'minimum'](x, dim) end
    local idx = ffi.new('prior_tensor *[1]')
    local v = call(h, cdim(dim, h.ndim, name, 2), keepdim and 1 or 0, idx)
    if v == nil then capi.fail() end
    return wrap(v, 1), wrap(idx[0], 1)
  end)
end
maxmin('max')
maxmin('min')
for _, a in ipairs({ 'argmax', 'argmin' }) do
  local cname = 'prior_' .. a
  def(a, function(x, dim, keepdim)
    local h = check(x, a, 1)
    if dim == nil then
      local flat = F.reshape(x, { -1 })
      return wrap(C[cname](flat.h, 0, 0), 1)
    end
    return wrap(C[cname](h, cdim(dim, h.ndim, a, 2), keepdim and 1 or 0), 1)
  end)
end

-- ---- shape --------------------------------------------------------------------------------------------------
def('reshape', function(x, ...)
  local h = check(x, 'reshape', 1)
  local n, s = T.shape_args('reshape', ...)
  return wrap(C.prior_reshape(h, n, s), 1)
end)
def('view', function(x, ...)
  local h = check(x, 'view', 1)
  local n, s = T.shape_args('view', ...)
  return wrap(C.prior_view(h, n, s), 1)
end)
def('expand', function(x, ...)
  local h = check(x, 'expand', 1)
  local n, s = T.shape_args('expand', ...)
  return wrap(C.prior_expand(h, n, s), 1)
end)
def('flatten', function(x, first, last)
  local h = check(x, 'flatten', 1)
  if h.ndim == 0 then return F.reshape(x, { 1 }) end
  return wrap(C.prior_flatten(h, cdim(first or 1, h.ndim, 'flatten', 2), cdim(last or -1, h.ndim, 'flatten', 3)), 1)
end)
def('permute', function(x, ...)
  local h = check(x, 'permute', 1)
  local order = type(...) == 'table' and ... or { ... }
  if #order ~= h.ndim then
    T.argerror('permute', 2, string.format('must list %d dims, got %d', h.ndim, #order))
  end
  local arr = ffi.new('int64_t[?]', math.max(#order, 1))
  for i, d in ipairs(order) do arr[i - 1] = cdim(d, h.ndim, 'permute', 2) end
  return wrap(C.prior_permute(h, #order, arr), 1)
end)
def('transpose', function(x, d0, d1)
  local h = check(x, 'transpose', 1)
  return wrap(C.prior_transpose(h, cdim(d0, h.ndim, 'transpose', 2), cdim(d1, h.ndim, 'transpose', 3)), 1)
end)
def('t', function(x)
  local h = check(x, 't', 1)
  if h.ndim ~= 2 then T.argerror('t', 1, string.format('must be 2-D, got %d dims', h.ndim)) end
  return wrap(C.prior_transpose(h, 0, 1), 1)
end)

-- A 1-based position (negative from the end) along a dim of `size` into a 0-based one.
local function cpos(i, size, fname, argn, allow_end)
  if type(i) ~= 'number' or i ~= math.floor(i) then
    T.argerror(fname, argn, 'must be an integer index, got ' .. tostring(i))
  end
  local p = i > 0 and i - 1 or size + i
  if i == 0 or p < 0 or p > size - (allow_end and 0 or 1) then
    error(string.format('%s: argument %s: index %d is out of range for a dim of size %d (indices count from 1, '
                        .. 'or from -1 at the end)', fname, tostring(argn), i, size), 3)
  end
  return p
end
F.cpos = cpos

-- narrow(x, dim, start, length): elements start .. start+length-1 (1-based start).
def('narrow', function(x, dim, start, length)
  local h = check(x, 'narrow', 1)
  local d = cdim(dim, h.ndim, 'narrow', 2)
  local s = cpos(start, tonumber(h.shape[d]), 'narrow', 3)
  if type(length) ~= 'number' or length < 0 then T.argerror('narrow', 4, '(length) must be a non-negative integer') end
  return wrap(C.prior_narrow(h, d, s, length), 1)
end)
-- select(x, dim, index): removes dim.
def('select', function(x, dim, index)
  local h = check(x, 'select', 1)
  local d = cdim(dim, h.ndim, 'select', 2)
  return wrap(C.prior_select(h, d, cpos(index, tonumber(h.shape[d]), 'select', 3)), 1)
end)
-- sub(x, s1, e1, s2, e2, ...): inclusive 1-based ranges per dim (Torch7's sub); nil keeps a dim whole.
def('sub_range', function(x, ...)
  local r = x
  local args = { ... }
  local h = check(x, 'sub', 1)
  for d = 1, h.ndim do
    local s, e = args[2 * d - 1], args[2 * d]
    if s ~= nil or e ~= nil then
      local size = r:size(d)
      local ps = cpos(s or 1, size, 'sub', 2 * d)
      local pe = cpos(e or -1, size, 'sub', 2 * d + 1)
      r = F.narrow(r, d, ps + 1, math.max(pe - ps + 1, 0))
    end
  end
  return r
end, false)
Tensor.sub_range = F.sub_range
def('squeeze', function(x, dim)
  local h = check(x, 'squeeze', 1)
  if dim == nil then return wrap(C.prior_squeeze_all(h), 1) end
  return wrap(C.prior_squeeze(h, cdim(dim, h.ndim, 'squeeze', 2)), 1)
end)
def('unsqueeze', function(x, dim)
  local h = check(x, 'unsqueeze', 1)
  return wrap(C.prior_unsqueeze(h, cdim(dim, h.ndim, 'unsqueeze', 2, 1)), 1)
end)
def('contiguous', function(x) return wrap(C.prior_contiguous(check(x, 'contiguous', 1)), 1) end)
def('clone', function(x) return wrap(C.prior_clone(check(x, 'clone', 1)), 1) end)
def('to_dtype', function(x, dtype) return wrap(C.prior_to_dtype(check(x, 'to_dtype', 1), T.dtype_of(dtype, 'to_dtype', 2)), 1) end)

-- ---- indexing: t[i], t[{i, {a, b}, {}}] ------------------------------------------------------------------------
-- A number selects along the first dim (a 1-D tensor gives a Lua number); a table indexes several dims:
-- a number selects, {a, b} is the inclusive range a..b, {} keeps the dim.
local function index_view(t, k)
  if type(k) == 'number' then return F.select(t, 1, k) end
  local r, d = t, 1
  for i = 1, #k do
    local e = k[i]
    if type(e) == 'number' then
      r = F.select(r, d, e)
    elseif type(e) == 'table' then
      if #e > 0 then
        local size = r:size(d)
        local ps = cpos(e[1], size, 'index', i)
        local pe = cpos(e[2] or e[1], size, 'index', i)
        r = F.narrow(r, d, ps + 1, math.max(pe - ps + 1, 0))
      end
      d = d + 1
    else
      error(string.format('index: entry %d must be a number or a table, got %s', i, type(e)), 3)
    end
  end
  return r
end

local function index_get(t, k)
  local v = index_view(t, k)
  if v:dim() == 0 then return v:item() end
  return v
end

local function index_set(t, k, value)
  local v = index_view(t, k)
  if type(value) == 'number' then
    v:fill_(value)
  elseif T.is_tensor(value) then
    v:copy_(value)
  else
    error('index assignment: the value must be a number or a tensor, got ' .. type(value), 2)
  end
end

-- t:sub has two meanings, told apart by the arguments: t:sub(x) with one tensor or number subtracts
-- (prior.sub); t:sub(s1, e1 [, s2, e2 ...]) with two or more numbers takes inclusive 1-based ranges per dim
-- (Torch7's sub, also t:sub_range).
local subtract = F.sub
Tensor.sub = function(t, ...)
  local n = select('#', ...)
  if n >= 2 then return F.sub_range(t, ...) end
  return subtract(t, ...)
end

-- ---- operators ----------------------------------------------------------------------------------------------
meta.__add = function(a, b) return F.add(a, b) end
meta.__sub = function(a, b) return F.sub(a, b) end
meta.__mul = function(a, b) return F.mul(a, b) end
meta.__div = function(a, b) return F.div(a, b) end
meta.__pow = function(a, b) return F.pow(a, b) end
meta.__unm = function(a) return F.neg(a) end

return { F = F, meta = meta, index_get = index_get, index_set = index_set }
