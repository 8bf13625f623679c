-- Adam: L2 weight decay added to the gradient (torch.optim.Adam); bias-corrected moments. Update math in C.
local capi = require 'prior.capi'
local Optimizer = require 'prior.optim.Optimizer'

-- Adam(params, {lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0})
local Adam = Optimizer.class('Adam', { lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0 })

function Adam:update(p, g, state)
  if state.step == nil then
    state.step = 0
    state.exp_avg = Optimizer.zeros_like(p)
    state.exp_avg_sq = Optimizer.zeros_like(p)
  end
  state.step = state.step + 1
  capi.status(capi.C.prior_adam_step(p.h, g.h, state.exp_avg.h, state.exp_avg_sq.h, state.step, self.lr, self.beta1,
                                     self.beta2, self.eps, self.weight_decay, 0))
end

return Adam
