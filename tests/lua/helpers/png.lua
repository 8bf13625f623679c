-- A small PNG reader for the tests: chunk walk, zlib inflate of IDAT (through the FFI), scanline unfiltering.
-- Enough for the 8-bit RGB/RGBA non-interlaced files cairo writes.
--   local png = dofile('tests/lua/helpers/png.lua')
--   png.info(path) -> {w, h, depth, ctype, bytes, data} or nil, why
--   png.pixels(path) -> function(x, y) -> r, g, b (0-based), info      (png.available: zlib was found)
--   png.gray_variance(path) -> the variance of the pixels' gray levels (0 for a blank image)
local ffi = require('ffi')

local M = {}

pcall(ffi.cdef, [[
  int uncompress(uint8_t *dest, unsigned long *destLen, const uint8_t *source, unsigned long sourceLen);
]])
local zok, z = pcall(ffi.load, 'z')
if not zok then zok, z = pcall(ffi.load, 'libz.so.1') end
M.available = zok

local function read(path)
  local f = io.open(path, 'rb')
  if not f then return nil end
  local s = f:read('*a')
  f:close()
  return s
end

local function be32(s, i)
  local a, b, c, d = s:byte(i, i + 3)
  return ((a * 256 + b) * 256 + c) * 256 + d
end

function M.info(path)
  local s = read(path)
  if not s or s:sub(1, 8) ~= '\137PNG\r\n\26\n' then return nil, 'not a PNG: ' .. path end
  local w, h, depth, ctype = be32(s, 17), be32(s, 21), s:byte(25), s:byte(26)
  return {w = w, h = h, depth = depth, ctype = ctype, bytes = #s, data = s}
end

-- Decodes the pixels; returns a function (x, y) -> r, g, b (0-based) and the image.
function M.pixels(path)
  local info = assert(M.info(path))
  assert(zok, 'zlib not found')
  assert(info.depth == 8 and (info.ctype == 2 or info.ctype == 6), 'unsupported PNG type')
  local s, pos, idat = info.data, 9, {}
  while pos < #s do
    local len, kind = be32(s, pos), s:sub(pos + 4, pos + 7)
    if kind == 'IDAT' then idat[#idat + 1] = s:sub(pos + 8, pos + 7 + len) end
    pos = pos + 12 + len
  end
  local comp = table.concat(idat)
  local bpp = info.ctype == 6 and 4 or 3
  local stride = info.w * bpp
  local size = info.h * (stride + 1)
  local raw = ffi.new('uint8_t[?]', size)
  local n = ffi.new('unsigned long[1]', size)
  assert(z.uncompress(raw, n, comp, #comp) == 0, 'inflate failed')
  local img = ffi.new('uint8_t[?]', info.h * stride)
  for y = 0, info.h - 1 do
    local f, src, dst = raw[y * (stride + 1)], y * (stride + 1) + 1, y * stride
    for x = 0, stride - 1 do
      local a = x >= bpp and img[dst + x - bpp] or 0
      local b = y > 0 and img[dst - stride + x] or 0
      local c = (x >= bpp and y > 0) and img[dst - stride + x - bpp] or 0
      local v = raw[src + x]
      if f == 1 then v = v + a
      elseif f == 2 then v = v + b
      elseif f == 3 then v = v + math.floor((a + b) / 2)
      elseif f == 4 then
        local p = a + b - c
        local pa, pb, pc = math.abs(p - a), math.abs(p - b), math.abs(p - c)
        v = v + ((pa <= pb and pa <= pc) and a or (pb <= pc and b or c))
      end
      img[dst + x] = v % 256
    end
  end
  return function(x, y)
    local o = y * stride + x * bpp
    return img[o], img[o + 1], img[o + 2]
  end, info
end

-- Variance of the gray level (r + g + b) / 3 over every pixel.
function M.gray_variance(path)
  local px, info = M.pixels(path)
  local s, s2, n = 0, 0, info.w * info.h
  for y = 0, info.h - 1 do
    for x = 0, info.w - 1 do
      local r, g, b = px(x, y)
      local v = (r + g + b) / 3
      s, s2 = s + v, s2 + v * v
    end
  end
  local m = s / n
  return s2 / n - m * m
end

return M
