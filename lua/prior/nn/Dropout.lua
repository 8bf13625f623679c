-- prior.dropout as a module: active in training mode, the identity after :eval().
local prior = require 'prior'
local Dropout = require('prior.nn.Module'):extend('Dropout')

-- Dropout([p=0.5])
function Dropout:__init(p)
  p = p or 0.5
  if type(p) ~= 'number' or p < 0 or p >= 1 then error('Dropout: argument 1 (p) must be in [0, 1), got ' .. tostring(p), 3) end
  self.p = p
end

function Dropout:forward(x) return prior.dropout(x, self.p, self.training) end
function Dropout:extra_repr() return 'p=' .. self.p end

return Dropout
