-- prior.dropout2d as a module: active in training mode, the identity after :eval().
local prior = require 'prior'
local Dropout2d = require('prior.nn.Module'):extend('Dropout2d')

-- Dropout2d([p=0.5])
function Dropout2d:__init(p)
  p = p or 0.5
  if type(p) ~= 'number' or p < 0 or p >= 1 then error('Dropout2d: argument 1 (p) must be in [0, 1), got ' .. tostring(p), 3) end
  self.p = p
end

function Dropout2d:forward(x) return prior.dropout2d(x, self.p, self.training) end
function Dropout2d:extra_repr() return 'p=' .. self.p end

return Dropout2d
