-- Layer normalisation over the last dims (PyTorch's nn.LayerNorm).
local prior = require 'prior'
local LayerNorm = require('prior.nn.Module'):extend('LayerNorm')

-- LayerNorm(normalized_shape, [{eps=1e-5, elementwise_affine=true}]); normalized_shape: number or table.
function LayerNorm:__init(shape, opts)
  opts = opts or {}
  if type(shape) == 'number' then shape = { shape } end
  if type(shape) ~= 'table' or #shape == 0 then
    error('LayerNorm: argument 1 (normalized_shape) must be a number or a table of sizes', 3)
  end
  self.normalized_shape, self.eps = shape, opts.eps or 1e-5
  if opts.elementwise_affine ~= false then
    self.weight = prior.ones(shape, { requires_grad = true })
    self.bias = prior.zeros(shape, { requires_grad = true })
  end
end

function LayerNorm:forward(x)
  return prior.layer_norm(x, self.normalized_shape, self.weight, self.bias, { eps = self.eps })
end

function LayerNorm:extra_repr()
  return string.format('{%s}, eps=%g', table.concat(self.normalized_shape, ', '), self.eps)
end

return LayerNorm
