-- prior.cuda: the GPU from Lua. Tensors move with t:cuda() / t:cpu() / t:to('cuda:1'); memory statistics are
-- prior.memory('cuda'). Every function works in every build: without the CUDA backend or a GPU,
-- available() is false and moving a tensor to the GPU is an error that says so.
local capi = require 'prior.capi'
local C = capi.C

local M = {}

-- Whether a GPU can be used, and how many there are.
function M.available() return C.prior_cuda_available() ~= 0 end
function M.device_count() return tonumber(C.prior_cuda_device_count()) end

-- Waits for the queued work of GPU i (default 0); a kernel that failed reports here.
function M.synchronize(i)
  if i ~= nil and (type(i) ~= 'number' or i < 0) then error('cuda.synchronize: argument 1 must be a device index', 2) end
  capi.status(C.prior_cuda_synchronize(i or 0), 2)
end

-- "cpu", or "cuda 13.0 (sm_80 sm_90), 1 device": what this build contains and what the machine has.
function M.build_info()
  return require('ffi').string(C.prior_build_info())
end

-- cuda.autocast(true) runs GPU matmuls and convolutions of f32 tensors in bf16 with f32 accumulation and
-- f32 outputs; cuda.autocast(false) is pure f32 (the default). Returns the previous setting.
function M.autocast(on)
  local prev = C.prior_autocast_enabled() ~= 0
  if on ~= nil then capi.status(C.prior_autocast_set(on and 1 or 0, 6 --[[ PRIOR_BF16 ]]), 2) end
  return prev
end

return M
