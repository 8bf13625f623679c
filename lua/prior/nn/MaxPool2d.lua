-- Max pooling over [N, C, H, W] (PyTorch's nn.MaxPool2d).
local prior = require 'prior'
local MaxPool2d = require('prior.nn.Module'):extend('MaxPool2d')

-- MaxPool2d(kernel_size, [{stride=kernel_size, padding=0}])
function MaxPool2d:__init(kernel, opts)
  opts = opts or {}
  if kernel == nil then error('MaxPool2d: argument 1 (kernel_size) is required', 3) end
  self.kernel_size, self.stride, self.padding = kernel, opts.stride or kernel, opts.padding or 0
end

function MaxPool2d:forward(x)
  return prior.max_pool2d(x, self.kernel_size, { stride = self.stride, padding = self.padding })
end

function MaxPool2d:extra_repr()
  local function s(v) return type(v) == 'table' and ('(' .. table.concat(v, ', ') .. ')') or tostring(v) end
  return string.format('kernel_size=%s, stride=%s, padding=%s', s(self.kernel_size), s(self.stride), s(self.padding))
end

return MaxPool2d
