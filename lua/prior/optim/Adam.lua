-- Adam (L2 weight decay added to the gradient, torch.optim.Adam) and AdamW (decoupled weight decay,
-- torch.optim.AdamW): the same bias-corrected moments, one flag apart. Update math in C (prior_adam_step).
local capi = require 'prior.capi'
local Optimizer = require 'prior.optim.Optimizer'

local function adam_class(name, weight_decay, decoupled)
  local cls = Optimizer.class(name, { lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = weight_decay })
  function cls:update(p, g, state)
    if state.step == nil then
      state.step = 0
      state.exp_avg = Optimizer.zeros_like(p)
      state.exp_avg_sq = Optimizer.zeros_like(p)
    end
    state.step = state.step + 1
    capi.status(capi.C.prior_adam_step(p.h, g.h, state.exp_avg.h, state.exp_avg_sq.h, state.step, self.lr, self.beta1,
                                       self.beta2, self.eps, self.weight_decay, decoupled))
  end
  return cls
end

-- Adam(params, {lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0})
-- AdamW(params, {lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01})
return { Adam = adam_class('Adam', 0, 0), AdamW = adam_class('AdamW', 0.01, 1) }
