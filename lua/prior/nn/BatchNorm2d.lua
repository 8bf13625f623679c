-- Batch normalisation over [N, C, H, W] (PyTorch's nn.BatchNorm2d). running_mean, running_var and
-- num_batches_tracked are buffers: they are in the state dict but are not parameters.
local prior = require 'prior'
local BatchNorm2d = require('prior.nn.Module'):extend('BatchNorm2d')

-- BatchNorm2d(num_features, [{eps=1e-5, momentum=0.1, affine=true}])
function BatchNorm2d:__init(c, opts)
  opts = opts or {}
  if type(c) ~= 'number' or c < 1 then error('BatchNorm2d: argument 1 (num_features) must be a positive integer', 3) end
  self.num_features, self.eps, self.momentum = c, opts.eps or 1e-5, opts.momentum or 0.1
  if opts.affine ~= false then
    self.weight = prior.ones({ c }, { requires_grad = true })
    self.bias = prior.zeros({ c }, { requires_grad = true })
  end
  self:register_buffer('running_mean', prior.zeros({ c }))
  self:register_buffer('running_var', prior.ones({ c }))
  self:register_buffer('num_batches_tracked', prior.zeros({}, { dtype = 'i64' }))
end

function BatchNorm2d:forward(x)
  if self.training then
    local nbt = self.num_batches_tracked
    nbt:fill_(nbt:item() + 1)
  end
  if self.training and prior.dist.sync_batch_norm_active() then -- several processes: the global batch's statistics
    return prior.dist.sync_batch_norm2d(x, self.running_mean, self.running_var, self.weight, self.bias,
                                        { momentum = self.momentum, eps = self.eps })
  end
  return prior.batch_norm2d(x, self.running_mean, self.running_var, self.weight, self.bias,
                            { training = self.training, momentum = self.momentum, eps = self.eps })
end

function BatchNorm2d:extra_repr()
  return string.format('%d, eps=%g, momentum=%g, affine=%s', self.num_features, self.eps, self.momentum,
                       tostring(self.weight ~= nil))
end

return BatchNorm2d
