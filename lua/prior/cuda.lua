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

-- cuda.autocast([on]): the same switch as prior.autocast (one process-wide setting for every device).
function M.autocast(on) return (require('prior').autocast(on)) end

return M
