-- The shared part of the optimizers: the parameter list, per-parameter state, :zero_grad(), :step() over
-- parameters that have a gradient, and state_dict/load_state_dict in PyTorch's layout
-- ({state = {[i] = {step=..., exp_avg=...}}, param_groups = {{lr=..., ...}}}, i counting from 1).
local ffi = require 'ffi'
local prior = require 'prior'
local capi = require 'prior.capi'
local T = require 'prior.tensor'

local Optimizer = {}
Optimizer.__index = Optimizer

-- Makes an optimizer class named `name` whose defaults are `defaults` and update is update(self, p, g, state).
function Optimizer.class(name, defaults)
  local cls = setmetatable({ __name = name, defaults = defaults }, { __index = Optimizer,
    __call = function(c, params, opts) return c.new(c, params, opts) end })
  cls.__index = cls
  cls.__tostring = function(o)
    local keys = {}
    for k in pairs(o.defaults) do keys[#keys + 1] = k end
    table.sort(keys)
    local parts = {}
    for _, k in ipairs(keys) do parts[#parts + 1] = k .. '=' .. tostring(o[k]) end
    return string.format('%s(%d params; %s)', name, #o.params, table.concat(parts, ', '))
  end
  return cls
end

-- cls(params, opts): params is a module (its :parameters()), or a table of tensors.
function Optimizer.new(cls, params, opts)
  if type(params) == 'table' and params.parameters and type(params.parameters) == 'function' then
    params = params:parameters()
  end
  if type(params) ~= 'table' or #params == 0 then
    error(cls.__name .. ': argument 1 must be a module or a non-empty table of tensors', 3)
  end
  for i, p in ipairs(params) do
    if not T.is_tensor(p) then error(string.format('%s: parameter %d is a %s, not a tensor', cls.__name, i, type(p)), 3) end
    if not p:requires_grad() then
      error(string.format('%s: parameter %d does not require grad', cls.__name, i), 3)
    end
  end
  opts = opts or {}
  if type(opts) ~= 'table' then error(cls.__name .. ': argument 2 (options) must be a table', 3) end
  local self = setmetatable({ params = params, state = {} }, cls)
  for k, v in pairs(cls.defaults) do
    local given = opts[k]
    if given == nil then given = v end
    if given == 'required' then error(string.format('%s: option %s is required', cls.__name, k), 3) end
    self[k] = given
  end
  for k in pairs(opts) do
    if cls.defaults[k] == nil then error(string.format("%s: unknown option '%s'", cls.__name, tostring(k)), 3) end
  end
  if self.validate then self:validate() end
  return self
end

function Optimizer:zero_grad()
  for _, p in ipairs(self.params) do p:zero_grad() end
end

function Optimizer:set_lr(lr)
  if type(lr) ~= 'number' or lr < 0 then error('set_lr: argument 1 must be a non-negative number', 2) end
  self.lr = lr
end

-- One update of every parameter that has a gradient.
function Optimizer:step()
  for i, p in ipairs(self.params) do
    local g = p.grad
    if g ~= nil then
      self.state[i] = self.state[i] or {}
      self:update(p, g:contiguous(), self.state[i])
    end
  end
end

-- A parameter's position in self.params by the address of its C tensor (what the backward's callback sees).
local function address(h) return tonumber(ffi.cast('intptr_t', h)) end

-- The update of one parameter whose gradient is complete, during backward; the gradient is dropped after it.
-- Returns the gradient's squared L2 norm (0 without a gradient).
function Optimizer:update_and_drop(i, prepare)
  local p = self.params[i]
  if p.grad == nil then return 0 end
  if prepare then prepare(p) end
  local g = p.grad
  local gc = g:contiguous()
  local norm = ffi.new('double[1]')
  local list = ffi.new('prior_tensor *[1]', gc.h)
  capi.status(capi.C.prior_clip_grad_norm(1, list, math.huge, norm)) -- only the norm: nothing is clipped
  self.state[i] = self.state[i] or {}
  self:update(p, gc, self.state[i])
  if gc ~= g then gc:free() end
  g:free()
  p:zero_grad()
  return norm[0] * norm[0]
end

-- The C call that runs backward with a Lua callback: it must stay interpreted (LuaJIT may not enter a callback
-- from a C function that compiled code called).
local function backward_with_callback(h, cb)
  return capi.C.prior_backward_ex(h, nil, 0, cb, nil)
end
jit.off(backward_with_callback)

-- loss:backward(), then one update of every parameter that got a gradient, then zero_grad() -- but each
-- parameter is updated as soon as backward has completed its gradient, and the gradient is freed there, so the
-- gradients of all parameters never exist at once (the memory of one model's worth of gradients saved at the
-- peak). The result equals the three calls in sequence; what it cannot do is anything that needs every gradient
-- before the first update (gradient clipping, accumulation over several backwards). Returns the gradients'
-- joint L2 norm (what clip_grad_norm_ would report). prepare (optional) is called with each parameter whose
-- gradient is complete, before its update (prior.dist.average_gradient: the data-parallel mean over processes).
function Optimizer:backward_step(loss, prepare)
  if not T.is_tensor(loss) then error('backward_step: argument 1 must be a tensor (the loss)', 2) end
  local index = {}
  for i, p in ipairs(self.params) do index[address(p.h)] = i end
  local sumsq, failure = 0, nil
  local cb = ffi.cast('prior_leaf_ready_fn', function(leaf)
    local i = index[address(leaf)]
    if not i then return 0 end -- a leaf that is not ours keeps its gradient
    local ok, r = pcall(self.update_and_drop, self, i, prepare)
    if ok then
      sumsq = sumsq + r
      return 0
    end
    failure = tostring(r)
    return 1 -- any non-OK status stops the backward
  end)
  local s = backward_with_callback(loss.h, cb)
  cb:free()
  if failure then error('backward_step: updating a parameter failed: ' .. failure, 2) end
  capi.status(s, 2)
  return math.sqrt(sumsq)
end

function Optimizer:state_dict()
  local group = {}
  for k in pairs(self.defaults) do group[k] = self[k] end
  local state = {}
  for i, s in pairs(self.state) do
    local c = {}
    for k, v in pairs(s) do c[k] = T.is_tensor(v) and v:clone() or v end
    state[i] = c
  end
  return { state = state, param_groups = { group } }
end

function Optimizer:load_state_dict(sd)
  if type(sd) ~= 'table' or type(sd.state) ~= 'table' or type(sd.param_groups) ~= 'table' then
    error('load_state_dict: argument 1 must be an optimizer state dict {state=..., param_groups=...}', 2)
  end
  for k, v in pairs(sd.param_groups[1] or {}) do
    if self.defaults[k] ~= nil then self[k] = v end
  end
  self.state = {}
  for i, s in pairs(sd.state) do
    local p = self.params[i]
    if p == nil then error(string.format('load_state_dict: state for parameter %s, but there are %d', tostring(i), #self.params), 2) end
    local c = {}
    for k, v in pairs(s) do
      if T.is_tensor(v) then
        if table.concat(v:size(), ',') ~= table.concat(p:size(), ',') then
          error(string.format('load_state_dict: state %s of parameter %d has shape [%s], the parameter [%s]', k, i,
                              table.concat(v:size(), ', '), table.concat(p:size(), ', ')), 2)
        end
        c[k] = v:clone():detach()
      else
        c[k] = v
      end
    end
    self.state[i] = c
  end
end

-- A state tensor of p's shape and dtype, zero.
function Optimizer.zeros_like(p)
  return prior.zeros(p:size(), { dtype = p:dtype() })
end

return Optimizer
