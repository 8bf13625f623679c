-- Average pooling to a fixed output size (PyTorch's nn.AdaptiveAvgPool2d).
local prior = require 'prior'
local AdaptiveAvgPool2d = require('prior.nn.Module'):extend('AdaptiveAvgPool2d')

-- AdaptiveAvgPool2d(output_size): a number or {h, w}
function AdaptiveAvgPool2d:__init(size)
  if size == nil then error('AdaptiveAvgPool2d: argument 1 (output_size) is required', 3) end
  self.output_size = size
end

function AdaptiveAvgPool2d:forward(x) return prior.adaptive_avg_pool2d(x, self.output_size) end

function AdaptiveAvgPool2d:extra_repr()
  local v = self.output_size
  return 'output_size=' .. (type(v) == 'table' and ('(' .. table.concat(v, ', ') .. ')') or tostring(v))
end

return AdaptiveAvgPool2d
