-- prior: tensors, autograd, ops, nn and optim over the C runtime (LuaJIT FFI).
local capi = require 'prior.capi'
local T = require 'prior.tensor'
local create = require 'prior.create'
local ops = require 'prior.ops'
local printer = require 'prior.print'
local ffi = require 'ffi'
local C = capi.C

local F = ops.F
require 'prior.ops_nn'(F)
ops.meta.__tostring = printer.format
T.install(ops)

local prior = {}
for k, v in pairs(F) do
  if k ~= 'def' and k ~= 'cpos' and k ~= 'sub_range' then prior[k] = v end
end
for k, v in pairs(create) do prior[k] = v end
-- Methods that make sense as functions too.
for _, k in ipairs({ 'size', 'dim', 'numel', 'dtype', 'device', 'item', 'totable', 'detach', 'backward',
                     'requires_grad', 'free', 'to' }) do
  prior[k] = prior[k] or T.methods[k]
end
prior.sub = F.sub

prior.version = PRIOR_BUILD and PRIOR_BUILD.version or '?'
prior.is_tensor = T.is_tensor
prior.print_options = printer

-- Whether the runtime library implements op `name` ('conv2d' or 'prior_conv2d').
function prior.has_op(name)
  if type(name) ~= 'string' then error('has_op: argument 1 must be an op name', 2) end
  if not name:match('^prior_') then name = 'prior_' .. name end
  return capi.has_symbol(name)
end

-- prior.seed(n): seeds the Philox generator that rand, randn, dropout and initialisers draw from.
function prior.seed(n)
  if type(n) ~= 'number' or n < 0 then error('seed: argument 1 must be a non-negative integer', 2) end
  C.prior_rng_seed(n)
end

local function pack(...) return { n = select('#', ...), ... } end

-- prior.no_grad(fn, ...): runs fn with autograd recording off and returns its results.
function prior.no_grad(fn, ...)
  if type(fn) ~= 'function' then error('no_grad: argument 1 must be a function, got ' .. type(fn), 2) end
  local prev = C.prior_set_grad_enabled(0)
  local res = pack(pcall(fn, ...))
  C.prior_set_grad_enabled(prev)
  if not res[1] then error(res[2], 0) end
  return unpack(res, 2, res.n)
end
function prior.grad_enabled() return C.prior_grad_enabled() ~= 0 end

-- prior.autocast([on]): mixed precision for every device (prior/amp.h); returns the previous setting and
-- whether this CPU computes bf16 natively (without it the CPU stays f32).
function prior.autocast(on)
  local prev = C.prior_autocast_enabled() ~= 0
  if on ~= nil then capi.status(C.prior_autocast_set(on and 1 or 0, 6 --[[ PRIOR_BF16 ]]), 2) end
  return prev, C.prior_autocast_native(C.prior_cpu()) ~= 0
end
function prior.set_grad_enabled(on) return C.prior_set_grad_enabled(on and 1 or 0) ~= 0 end

-- ---- memory ---------------------------------------------------------------------------------------------------
local stats_mt = {
  __tostring = function(s)
    local function mb(b) return string.format('%.1f MiB', b / 1048576) end
    return string.format('%s: %s in use, %s cached, peak %s; %d allocations (%d from the cache, %d from the system)',
                         s.device, mb(s.bytes_in_use), mb(s.bytes_cached), mb(s.peak_bytes_in_use),
                         s.n_allocations, s.n_cache_hits, s.n_system_allocations)
  end,
}
-- prior.memory([device='cpu']): the caching allocator's statistics.
function prior.memory(device)
  local d = T.device_of(device or 'cpu', 'memory')
  local st = ffi.new('prior_memory_stats')
  capi.status(C.prior_memory_stats_get(d, st))
  return setmetatable({
    device = ffi.string(C.prior_device_name(d)),
    bytes_in_use = tonumber(st.bytes_in_use), bytes_cached = tonumber(st.bytes_cached),
    peak_bytes_in_use = tonumber(st.peak_bytes_in_use), n_allocations = tonumber(st.n_allocations),
    n_cache_hits = tonumber(st.n_cache_hits), n_system_allocations = tonumber(st.n_system_allocations),
  }, stats_mt)
end
-- prior.empty_cache([device='cpu']): collects dropped tensors, then returns cached blocks to the system.
function prior.empty_cache(device)
  collectgarbage()
  collectgarbage()
  C.prior_empty_cache(T.device_of(device or 'cpu', 'empty_cache'))
end

prior.cuda = require 'prior.cuda'
prior.build_info = prior.cuda.build_info

package.loaded.prior = prior
prior.nn = require 'prior.nn'
prior.optim = require 'prior.optim'
prior.dist = require 'prior.dist'
prior.data = require 'prior.data'
prior.tsne = require 'prior.tsne'
prior.models = require 'prior.models'
return prior
