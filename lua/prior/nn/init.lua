-- prior.nn: layers as Lua modules over the C ops (one file per module), and parameter initialisers.
local nn = {}
nn.Module = require 'prior.nn.Module'
nn.init = require 'prior.nn.initializers'
for _, name in ipairs({ 'Linear', 'Conv2d', 'BatchNorm2d', 'LayerNorm', 'Embedding', 'Dropout', 'Dropout2d',
                        'ReLU', 'GELU', 'Sigmoid', 'Tanh', 'MaxPool2d', 'AdaptiveAvgPool2d', 'Sequential',
                        'Identity' }) do
  nn[name] = require('prior.nn.' .. name)
end
return nn
