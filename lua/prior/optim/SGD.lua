-- Stochastic gradient descent with momentum, dampening, Nesterov and L2 weight decay (torch.optim.SGD).
local capi = require 'prior.capi'
local Optimizer = require 'prior.optim.Optimizer'

-- SGD(params, {lr=required, momentum=0, dampening=0, weight_decay=0, nesterov=false})
local SGD = Optimizer.class('SGD', { lr = 'required', momentum = 0, dampening = 0, weight_decay = 0, nesterov = false })

function SGD:validate()
  if self.nesterov and (self.momentum <= 0 or self.dampening ~= 0) then
    error('SGD: nesterov needs momentum > 0 and dampening 0', 4)
  end
end

function SGD:update(p, g, state)
  local first = state.momentum_buffer == nil
  if self.momentum ~= 0 and first then state.momentum_buffer = Optimizer.zeros_like(p) end
  local buf = state.momentum_buffer
  capi.status(capi.C.prior_sgd_step(p.h, g.h, buf and buf.h or nil, first and 1 or 0, self.lr, self.momentum,
                                    self.dampening, self.weight_decay, self.nesterov and 1 or 0))
end

return SGD
