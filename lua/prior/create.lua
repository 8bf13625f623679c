-- Tensor constructors: prior.tensor{...}, zeros/ones/full/empty, arange/linspace/eye, rand/randn, from_file.
-- Shapes are a table {2, 3} or numbers (2, 3); the last argument may be an options table
-- {dtype='f32', device='cpu', requires_grad=false}.
local ffi = require 'ffi'
local capi = require 'prior.capi'
local T = require 'prior.tensor'
local C = capi.C
local wrap = T.wrap

local M = {}

-- Splits (shape..., opts) into the shape arguments and the options table.
local function split_opts(...)
  local n = select('#', ...)
  local last = select(n, ...)
  if n > 0 and type(last) == 'table' and (#last == 0 and next(last) ~= nil) then
    return last, n - 1, ...
  end
  return {}, n, ...
end

local function finish(t, opts)
  if opts.requires_grad then t:requires_grad(true) end
  return t
end

local function shaped(fname, cfn, extra)
  return function(...)
    local opts, n = split_opts(...)
    local args = { ... }
    local first = args[1]
    if n == 0 then first = nil end
    local nd, shape
    if type(first) == 'table' then
      nd, shape = T.shape_args(fname, first)
    else
      local dims = {}
      for i = 1, n do dims[i] = args[i] end
      nd, shape = T.shape_args(fname, dims)
    end
    for i = 0, nd - 1 do
      if shape[i] < 0 then
        error(string.format('%s: shape entry %d is negative (%d)', fname, i + 1, tonumber(shape[i])), 2)
      end
    end
    local dtype = T.dtype_of(opts.dtype, fname, 'dtype')
    local dev = T.device_of(opts.device, fname)
    return finish(wrap(cfn(nd, shape, dtype, dev, opts), 2), opts)
  end
end

M.zeros = shaped('zeros', function(n, s, d, dev) return C.prior_tensor_zeros(n, s, d, dev) end)
M.ones = shaped('ones', function(n, s, d, dev) return C.prior_tensor_ones(n, s, d, dev) end)
M.empty = shaped('empty', function(n, s, d, dev) return C.prior_tensor_empty(n, s, d, dev) end)
M.rand = shaped('rand', function(n, s, d, dev) return C.prior_tensor_rand(n, s, d, dev) end)
M.randn = shaped('randn', function(n, s, d, dev) return C.prior_tensor_randn(n, s, d, dev) end)

-- prior.full(shape, value, [opts])
function M.full(shape, value, opts)
  opts = opts or {}
  if type(value) ~= 'number' then T.argerror('full', 2, '(value) must be a number, got ' .. type(value)) end
  local nd, s = T.shape_args('full', shape)
  return finish(wrap(C.prior_tensor_full(nd, s, value, T.dtype_of(opts.dtype, 'full'),
                                         T.device_of(opts.device, 'full')), 1), opts)
end

-- prior.arange([start,] stop [, step] [, opts]): start .. stop-1 like Python's range (default dtype: i64
-- for integer arguments, f32 otherwise).
function M.arange(a, b, c, opts)
  if type(b) == 'table' then b, opts = nil, b elseif type(c) == 'table' then c, opts = nil, c end
  opts = opts or {}
  local start, stop, step = 0, a, 1
  if b ~= nil then start, stop, step = a, b, c or 1 end
  for i, v in ipairs({ start, stop, step }) do
    if type(v) ~= 'number' then T.argerror('arange', i, 'must be a number, got ' .. type(v)) end
  end
  if step == 0 then T.argerror('arange', 3, '(step) must not be 0') end
  local default = (start % 1 == 0 and stop % 1 == 0 and step % 1 == 0) and 'i64' or 'f32'
  return finish(wrap(C.prior_tensor_arange(start, stop, step, T.dtype_of(opts.dtype or default, 'arange'),
                                           T.device_of(opts.device, 'arange')), 1), opts)
end

function M.linspace(start, stop, steps, opts)
  opts = opts or {}
  if type(steps) ~= 'number' or steps < 1 then T.argerror('linspace', 3, '(steps) must be a positive integer') end
  return finish(wrap(C.prior_tensor_linspace(start, stop, steps, T.dtype_of(opts.dtype, 'linspace'),
                                             T.device_of(opts.device, 'linspace')), 1), opts)
end

function M.eye(n, m, opts)
  if type(m) == 'table' then m, opts = nil, m end
  opts = opts or {}
  if type(n) ~= 'number' then T.argerror('eye', 1, '(n) must be a number, got ' .. type(n)) end
  return finish(wrap(C.prior_tensor_eye(n, m or n, T.dtype_of(opts.dtype, 'eye'),
                                        T.device_of(opts.device, 'eye')), 1), opts)
end

function M.scalar(v, opts)
  opts = opts or {}
  return finish(wrap(C.prior_tensor_scalar(v, T.dtype_of(opts.dtype, 'scalar'), T.device_of(opts.device, 'scalar')), 1), opts)
end

-- prior.tensor(data, [opts]): nested tables of numbers (or booleans) -> a tensor; the nesting must be
-- rectangular. A number gives a 0-dim tensor; a tensor is copied.
function M.tensor(data, opts)
  opts = opts or {}
  if type(opts) ~= 'table' then T.argerror('tensor', 2, '(options) must be a table, got ' .. type(opts)) end
  if T.is_tensor(data) then
    local t = data:clone()
    if opts.dtype then t = t:to(opts.dtype) end
    return finish(t:detach(), opts)
  end
  local probe0 = data
  while type(probe0) == 'table' do probe0 = probe0[1] end
  -- booleans make a bool tensor unless a dtype is given
  local dtype = T.dtype_of(opts.dtype or (type(probe0) == 'boolean' and 'bool' or nil), 'tensor')
  local dev = T.device_of(opts.device, 'tensor')
  if type(data) == 'number' or type(data) == 'boolean' then
    local v = data == true and 1 or data == false and 0 or data
    return finish(wrap(C.prior_tensor_scalar(v, dtype, dev), 1), opts)
  end
  if type(data) ~= 'table' then T.argerror('tensor', 1, 'must be a table of numbers, got ' .. type(data)) end
  local shape = {}
  local probe = data
  while type(probe) == 'table' do
    shape[#shape + 1] = #probe
    probe = probe[1]
  end
  local numel = 1
  for _, s in ipairs(shape) do numel = numel * s end
  local buf = ffi.new('double[?]', math.max(numel, 1))
  local pos = 0
  local function fill(x, d, path)
    if d > #shape then
      if type(x) == 'boolean' then x = x and 1 or 0 end
      if type(x) ~= 'number' then
        error(string.format('tensor: element %s is a %s, not a number', path, type(x)), 4)
      end
      buf[pos] = x; pos = pos + 1
      return
    end
    if type(x) ~= 'table' or #x ~= shape[d] then
      error(string.format('tensor: ragged nesting at %s: expected %d entries, got %s', path, shape[d],
                          type(x) == 'table' and tostring(#x) or type(x)), 4)
    end
    for i = 1, shape[d] do fill(x[i], d + 1, path .. '[' .. i .. ']') end
  end
  fill(data, 1, 'data')
  local nd, s = T.shape_args('tensor', shape)
  local t = wrap(C.prior_tensor_from_data(buf, nd, s, 1, dev), 1)
  if dtype ~= 1 then t = t:to(dtype) end
  return finish(t, opts)
end

-- ---- files ------------------------------------------------------------------------------------------------
local NPY_DTYPES = { f4 = 'f32', f8 = 'f64', i4 = 'i32', i8 = 'i64', u1 = 'u8', b1 = 'bool', f2 = 'f16' }
local NPY_CODES = { f32 = '<f4', f64 = '<f8', i32 = '<i4', i64 = '<i8', u8 = '|u1', bool = '|b1', f16 = '<f2' }

local function read_all(path)
  local f, err = io.open(path, 'rb')
  if not f then error('from_file: ' .. tostring(err), 3) end
  local s = f:read('*a')
  f:close()
  return s
end

-- prior.from_file(path, [opts]): a NumPy .npy file (little-endian, C order), or raw bytes when
-- opts.shape and opts.dtype are given.
function M.from_file(path, opts)
  opts = opts or {}
  if type(path) ~= 'string' then T.argerror('from_file', 1, '(path) must be a string, got ' .. type(path)) end
  local bytes = read_all(path)
  local shape, dtype, offset
  if bytes:sub(1, 6) == '\147NUMPY' then
    if #bytes < 10 then error('from_file: ' .. path .. ': truncated .npy header', 2) end
    local major = bytes:byte(7)
    local hlen, hstart
    if major == 1 then
      hlen, hstart = bytes:byte(9) + 256 * bytes:byte(10), 11
    else
      hlen = bytes:byte(9) + 256 * bytes:byte(10) + 65536 * bytes:byte(11) + 16777216 * bytes:byte(12)
      hstart = 13
    end
    local header = bytes:sub(hstart, hstart + hlen - 1)
    if #header < hlen then error('from_file: ' .. path .. ': truncated .npy header', 2) end
    local descr = header:match("'descr':%s*'([^']*)'")
    local fortran = header:match("'fortran_order':%s*(%a+)")
    local shp = header:match("'shape':%s*%(([^)]*)%)")
    if not descr or not fortran or not shp then
      error('from_file: ' .. path .. ': .npy header lacks descr, fortran_order or shape: ' .. header, 2)
    end
    if fortran ~= 'False' then error('from_file: ' .. path .. ': Fortran-order .npy files are not supported', 2) end
    if descr:sub(1, 1) == '>' then error('from_file: ' .. path .. ': big-endian .npy files are not supported', 2) end
    dtype = NPY_DTYPES[descr:sub(2)]
    if not dtype then error('from_file: ' .. path .. ": unsupported .npy dtype '" .. descr .. "'", 2) end
    shape = {}
    for v in shp:gmatch('%d+') do shape[#shape + 1] = tonumber(v) end
    offset = hstart + hlen - 1
  else
    if not opts.shape or not opts.dtype then
      error('from_file: ' .. path .. ' is not a .npy file; raw files need {shape=..., dtype=...}', 2)
    end
    shape, dtype, offset = opts.shape, opts.dtype, opts.offset or 0
  end
  local d = T.dtype_of(dtype, 'from_file')
  local numel = 1
  for _, s in ipairs(shape) do numel = numel * s end
  local need = numel * tonumber(C.prior_dtype_size(d))
  if #bytes - offset < need then
    error(string.format('from_file: %s: shape %s of %s needs %d bytes of data, the file has %d', path,
                        table.concat(shape, 'x'), dtype, need, #bytes - offset), 2)
  end
  local nd, s = T.shape_args('from_file', shape)
  local ptr = ffi.cast('const char *', bytes) + offset
  local t = wrap(C.prior_tensor_from_data(ptr, nd, s, d, C.prior_cpu()), 1)
  if opts.dtype and opts.dtype ~= dtype then t = t:to(opts.dtype) end
  return t
end

-- prior.save_npy(t, path): writes a .npy file (version 1.0) that NumPy and prior.from_file read.
function M.save_npy(t, path)
  local h = T.check(t, 'save_npy', 1)
  local code = NPY_CODES[t:dtype()]
  if not code then error('save_npy: dtype ' .. t:dtype() .. ' has no .npy code', 2) end
  local dims = t:size()
  local shp = #dims == 1 and (dims[1] .. ',') or table.concat(dims, ', ')
  local header = string.format("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", code, shp)
  local pad = 64 - ((10 + #header + 1) % 64)
  if pad == 64 then pad = 0 end
  header = header .. string.rep(' ', pad) .. '\n'
  local c = C.prior_tensor_contiguous_raw(h)
  if c == nil then capi.fail() end
  local data = ffi.string(C.prior_tensor_data(c), C.prior_tensor_nbytes(c))
  C.prior_tensor_free(c)
  local f, err = io.open(path, 'wb')
  if not f then error('save_npy: ' .. tostring(err), 2) end
  f:write('\147NUMPY\1\0', string.char(#header % 256, math.floor(#header / 256)), header, data)
  f:close()
end

return M
