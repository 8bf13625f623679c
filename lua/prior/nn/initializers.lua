-- Parameter initialisers, drawing from the runtime's Philox generator (prior.seed makes them reproducible).
-- They work in place without autograd and return the tensor.
local M = {}

-- U(-bound, bound) with bound = gain * sqrt(3 / fan_in), gain = sqrt(2 / (1 + a^2)): PyTorch's
-- kaiming_uniform_ (fan_in mode, leaky_relu). With a = sqrt(5), the default of Linear and Conv2d weights,
-- the bound is 1 / sqrt(fan_in).
function M.kaiming_uniform_(t, a, fan_in)
  a = a or 0
  local gain = math.sqrt(2 / (1 + a * a))
  local bound = gain * math.sqrt(3 / fan_in)
  return t:uniform_(-bound, bound)
end

-- The bias of Linear and Conv2d: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
function M.bias_uniform_(t, fan_in)
  local bound = fan_in > 0 and 1 / math.sqrt(fan_in) or 0
  return t:uniform_(-bound, bound)
end

function M.uniform_(t, a, b) return t:uniform_(a or 0, b or 1) end
function M.normal_(t, mean, std) return t:normal_(mean or 0, std or 1) end
function M.zeros_(t) return t:fill_(0) end
function M.ones_(t) return t:fill_(1) end
function M.constant_(t, v) return t:fill_(v) end

return M
