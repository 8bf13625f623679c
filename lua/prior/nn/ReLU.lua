-- prior.relu as a module (no parameters).
local prior = require 'prior'
local ReLU = require('prior.nn.Module'):extend('ReLU')

function ReLU:forward(x) return prior.relu(x) end

return ReLU
