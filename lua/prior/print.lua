-- Tensor printing as PyTorch users expect: aligned columns, at most 3 leading and 3 trailing entries per dim
-- beyond a threshold with '...' between, higher dims as 2-D slices under "(i,j,.,.) =" headers, and a footer
-- with dtype, shape and device.
local ffi = require 'ffi'
local capi = require 'prior.capi'
local T = require 'prior.tensor'
local C = capi.C

local M = { threshold = 1000, edge = 3, precision = 4 }

-- The positions shown along a dim of `size` (0-based), with false marking the '...' gap.
local function shown(size, summarise)
  local r = {}
  if summarise and size > 2 * M.edge then
    for i = 0, M.edge - 1 do r[#r + 1] = i end
    r[#r + 1] = false
    for i = size - M.edge, size - 1 do r[#r + 1] = i end
  else
    for i = 0, size - 1 do r[#r + 1] = i end
  end
  return r
end

local function footer(t, h)
  local dims = t:size()
  local kind = #dims == 0 and 'scalar' or ('tensor of shape ' .. table.concat(dims, 'x'))
  local extra = h.requires_grad ~= 0 and (h.grad_fn ~= nil and ', grad_fn=' .. ffi.string(h.grad_fn.name)
                                          or ', requires_grad') or ''
  return string.format('[%s %s on %s%s]', t:dtype(), kind, t:device(), extra)
end

function M.format(t)
  local h = T.check(t, 'tostring', 1)
  if h.device.type ~= 0 then t = t:to('cpu'); h = t.h end
  local nd = tonumber(h.ndim)
  local numel = tonumber(C.prior_tensor_numel(h))
  local summarise = numel > M.threshold
  local idx = ffi.new('int64_t[8]')
  local out = ffi.new('double[1]')
  local function get()
    if C.prior_tensor_get(h, idx, out) ~= 0 then capi.fail(3) end
    return out[0]
  end
  if numel == 0 then return '[]\n' .. footer(t, h) end

  -- Collect the shown values first, to choose one number format and one column width.
  local lists = {}
  for d = 0, nd - 1 do lists[d + 1] = shown(tonumber(h.shape[d]), summarise) end
  local values = {}
  local function collect(d)
    if d == nd then values[#values + 1] = get(); return end
    for _, p in ipairs(lists[d + 1]) do
      if p then idx[d] = p; collect(d + 1) end
    end
  end
  collect(0)

  local floating = C.prior_dtype_is_floating(h.dtype) ~= 0
  local isbool = h.dtype == 5
  local fmt = '%d'
  if floating then
    local maxabs, minabs, allint = 0, math.huge, true
    for _, v in ipairs(values) do
      local a = math.abs(v)
      if a == a and a ~= math.huge then
        if a > maxabs then maxabs = a end
        if a > 0 and a < minabs then minabs = a end
        if v ~= math.floor(v) then allint = false end
      end
    end
    if maxabs >= 1e8 or (minabs < 1e-4 and minabs > 0) or (maxabs > 0 and maxabs / minabs > 1e8) then
      fmt = '%.' .. M.precision .. 'e'
    elseif allint then
      fmt = '%.0f.'
    else
      fmt = '%.' .. M.precision .. 'f'
    end
  end
  local function str(v)
    if isbool then return v ~= 0 and 'true' or 'false' end
    if v ~= v then return 'nan' end
    if v == math.huge then return 'inf' end
    if v == -math.huge then return '-inf' end
    if not floating then return string.format('%d', v) end
    return string.format(fmt, v)
  end
  local width = 1
  for _, v in ipairs(values) do width = math.max(width, #str(v)) end
  local cell = '%' .. width .. 's'

  local lines = {}
  local function row(d)
    -- the last dim as one line
    local parts = {}
    for _, p in ipairs(lists[d + 1]) do
      if p then idx[d] = p; parts[#parts + 1] = string.format(cell, str(get()))
      else parts[#parts + 1] = string.format(cell, '...') end
    end
    return ' ' .. table.concat(parts, '  ')
  end
  local function matrix(d)
    for _, p in ipairs(lists[d + 1]) do
      if p then idx[d] = p; lines[#lines + 1] = row(d + 1)
      else lines[#lines + 1] = ' ' .. string.format(cell, '...') end
    end
  end
  if nd == 0 then
    lines[1] = str(get())
  elseif nd == 1 then
    lines[1] = row(0)
  elseif nd == 2 then
    matrix(0)
  else
    local prefix = {}
    local function slices(d)
      if d == nd - 2 then
        local head = {}
        for i = 1, d do head[i] = tostring(prefix[i] + 1) end
        lines[#lines + 1] = '(' .. table.concat(head, ',') .. ',.,.) ='
        matrix(d)
        lines[#lines + 1] = ''
        return
      end
      for _, p in ipairs(lists[d + 1]) do
        if p then idx[d] = p; prefix[d + 1] = p; slices(d + 1)
        else lines[#lines + 1] = '...'; lines[#lines + 1] = '' end
      end
    end
    slices(0)
    lines[#lines] = nil
  end
  lines[#lines + 1] = footer(t, h)
  return table.concat(lines, '\n')
end

return M
