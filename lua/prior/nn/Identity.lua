-- Returns its input (a placeholder, as PyTorch's nn.Identity).
local Identity = require('prior.nn.Module'):extend('Identity')

function Identity:forward(x) return x end

return Identity
