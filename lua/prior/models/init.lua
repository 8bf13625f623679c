-- prior.models: whole models. prior.models.prior{preset='tiny', ...} builds PRIOR.
local M = {}
M.prior = require 'prior.models.prior'
return M
