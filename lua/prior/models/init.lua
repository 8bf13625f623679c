-- prior.models: whole models. prior.models.prior{preset='tiny', ...} builds PRIOR; prior.models.reference knows the
-- PRIOR authors' checkpoint names.
local M = {}
M.prior = require 'prior.models.prior'
M.reference = require 'prior.models.reference'
return M
