-- prior.sigmoid as a module (no parameters).
local prior = require 'prior'
local Sigmoid = require('prior.nn.Module'):extend('Sigmoid')

function Sigmoid:forward(x) return prior.sigmoid(x) end

return Sigmoid
