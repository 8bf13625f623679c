-- prior.gelu as a module (no parameters).
local prior = require 'prior'
local GELU = require('prior.nn.Module'):extend('GELU')

function GELU:forward(x) return prior.gelu(x) end

return GELU
