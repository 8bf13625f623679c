-- prior.optim.clip_grad_norm_(params, max_norm) -> total norm before clipping (torch.nn.utils.clip_grad_norm_).
local ffi = require 'ffi'
local capi = require 'prior.capi'
local T = require 'prior.tensor'

return function(params, max_norm)
  if type(params) == 'table' and type(params.parameters) == 'function' then params = params:parameters() end
  if T.is_tensor(params) then params = { params } end
  if type(params) ~= 'table' then error('clip_grad_norm_: argument 1 must be a module or a table of tensors', 2) end
  if type(max_norm) ~= 'number' or max_norm < 0 then
    error('clip_grad_norm_: argument 2 (max_norm) must be a non-negative number', 2)
  end
  local grads, keep = ffi.new('prior_tensor *[?]', math.max(#params, 1)), {}
  for i, p in ipairs(params) do
    local g = T.is_tensor(p) and p.grad or nil
    if g ~= nil then
      keep[i] = g
      grads[i - 1] = g.h
    end
  end
  local total = ffi.new('double[1]')
  capi.status(capi.C.prior_clip_grad_norm(#params, grads, max_norm, total))
  return total[0]
end
