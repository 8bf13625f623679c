-- prior.optim: optimizers (update math in C, prior/optim.h), learning-rate schedules and gradient clipping.
local optim = {}
optim.Optimizer = require 'prior.optim.Optimizer'
optim.SGD = require 'prior.optim.SGD'
optim.Adam = require('prior.optim.Adam').Adam
optim.AdamW = require('prior.optim.Adam').AdamW
optim.schedule = require 'prior.optim.schedule'
optim.clip_grad_norm_ = require 'prior.optim.clip'
return optim
