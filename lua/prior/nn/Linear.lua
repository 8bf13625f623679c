-- y = x W^T + b (PyTorch's nn.Linear): weight [out, in], bias [out].
local prior = require 'prior'
local init = require 'prior.nn.initializers'
local Linear = require('prior.nn.Module'):extend('Linear')

-- Linear(in_features, out_features, [{bias=true, dtype='f32'}])
function Linear:__init(in_features, out_features, opts)
  opts = opts or {}
  for i, v in ipairs({ in_features, out_features }) do
    if type(v) ~= 'number' or v < 1 then
      error(string.format('Linear: argument %d (%s) must be a positive integer, got %s', i,
                          i == 1 and 'in_features' or 'out_features', tostring(v)), 3)
    end
  end
  self.in_features, self.out_features = in_features, out_features
  local dt = opts.dtype or 'f32'
  local w = prior.empty({ out_features, in_features }, { dtype = dt })
  init.kaiming_uniform_(w, math.sqrt(5), in_features)
  self.weight = w:requires_grad(true)
  if opts.bias ~= false then
    self.bias = init.bias_uniform_(prior.empty({ out_features }, { dtype = dt }), in_features):requires_grad(true)
  end
end

function Linear:forward(x)
  return prior.linear(x, self.weight, self.bias)
end

function Linear:extra_repr()
  return string.format('in_features=%d, out_features=%d, bias=%s', self.in_features, self.out_features,
                       tostring(self.bias ~= nil))
end

return Linear
