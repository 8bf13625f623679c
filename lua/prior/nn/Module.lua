-- The base of every layer, and the way to define one in Lua:
--
--   local Scale = prior.nn.Module:extend('Scale')
--   function Scale:__init(n) self.weight = prior.ones(n, {requires_grad = true}) end
--   function Scale:forward(x) return x * self.weight end
--   local m = Scale(4); print(m(prior.randn(2, 4)))
--
-- Assigning a tensor that requires grad to a field registers a parameter, assigning a module registers a
-- submodule, in the order they are set (that order is the order of :parameters() and of the dotted names
-- 'layer1.0.weight' of :named_parameters()). Buffers (running statistics) are registered explicitly with
-- :register_buffer(name, tensor). Call syntax m(x) is m:forward(x).
local T = require 'prior.tensor'

local Module = { __name = 'Module' }
Module.__index = Module

local function is_module(v)
  return type(v) == 'table' and getmetatable(v) ~= nil and rawget(v, '_modules') ~= nil
end
Module.is_module = is_module

-- Instance field lookup: parameters, buffers, submodules, then the class chain.
local function make_index(cls)
  return function(self, k)
    local p = rawget(self, '_params')[k]
    if p ~= nil then return p end
    p = rawget(self, '_buffers')[k]
    if p ~= nil then return p end
    p = rawget(self, '_modules')[k]
    if p ~= nil then return p end
    return cls[k]
  end
end

local function newindex(self, k, v)
  local params, buffers, modules = rawget(self, '_params'), rawget(self, '_buffers'), rawget(self, '_modules')
  if params[k] ~= nil or (T.is_tensor(v) and v:requires_grad() and buffers[k] == nil) then
    self:register_parameter(k, v)
  elseif buffers[k] ~= nil then
    buffers[k] = v
  elseif modules[k] ~= nil or is_module(v) then
    self:add_module(k, v)
  else
    rawset(self, k, v)
  end
end

-- Module:extend(name) -> a new class; Class(...) makes an instance and calls Class.__init(self, ...).
function Module:extend(name)
  local cls = setmetatable({}, {
    __index = self,
    __call = function(c, ...) return c.new(c, ...) end,
  })
  cls.__name = name
  cls.super = self
  cls.__index = make_index(cls)
  cls.__newindex = newindex
  cls.__call = function(m, ...) return m:forward(...) end
  cls.__tostring = function(m) return m:tree() end
  return cls
end

function Module.new(cls, ...)
  local self = setmetatable({ _params = {}, _param_order = {}, _buffers = {}, _buffer_order = {}, _modules = {},
                              _module_order = {}, training = true }, cls)
  if cls.__init then cls.__init(self, ...) end
  return self
end

function Module:__init() end

function Module:forward()
  error(self.__name .. ': forward is not defined', 2)
end

local function add_ordered(order, k)
  for _, n in ipairs(order) do if n == k then return end end
  order[#order + 1] = k
end

function Module:register_parameter(name, t)
  if t ~= nil and not T.is_tensor(t) then
    error(string.format('%s: parameter %s must be a tensor, got %s', self.__name, name, type(t)), 2)
  end
  rawget(self, '_params')[name] = t
  add_ordered(rawget(self, '_param_order'), name)
end

function Module:register_buffer(name, t)
  if t ~= nil and not T.is_tensor(t) then
    error(string.format('%s: buffer %s must be a tensor, got %s', self.__name, name, type(t)), 2)
  end
  rawget(self, '_buffers')[name] = t
  add_ordered(rawget(self, '_buffer_order'), name)
end

function Module:add_module(name, m)
  if m ~= nil and not is_module(m) then
    error(string.format('%s: submodule %s must be a module, got %s', self.__name, name, type(m)), 2)
  end
  rawget(self, '_modules')[tostring(name)] = m
  add_ordered(rawget(self, '_module_order'), tostring(name))
end

-- Children in registration order: an array of {name, module}.
function Module:children()
  local r = {}
  for _, n in ipairs(self._module_order) do
    local m = self._modules[n]
    if m then r[#r + 1] = { n, m } end
  end
  return r
end

local function walk(self, prefix, kind, out)
  local store, order = self['_' .. kind], self['_' .. kind:sub(1, -2) .. '_order']
  if kind == 'params' then order = self._param_order end
  for _, n in ipairs(order) do
    local t = store[n]
    if t ~= nil then out[#out + 1] = { prefix .. n, t } end
  end
  for _, c in ipairs(self:children()) do walk(c[2], prefix .. c[1] .. '.', kind, out) end
  return out
end

-- {{'0.weight', t}, ...} in registration order, with PyTorch's dotted names.
function Module:named_parameters() return walk(self, '', 'params', {}) end
function Module:named_buffers() return walk(self, '', 'buffers', {}) end

function Module:parameters()
  local r = {}
  for i, p in ipairs(self:named_parameters()) do r[i] = p[2] end
  return r
end

function Module:num_parameters()
  local n = 0
  for _, p in ipairs(self:parameters()) do n = n + p:numel() end
  return n
end

function Module:train(mode)
  if mode == nil then mode = true end
  rawset(self, 'training', mode)
  for _, c in ipairs(self:children()) do c[2]:train(mode) end
  return self
end
function Module:eval() return self:train(false) end

function Module:zero_grad()
  for _, p in ipairs(self:parameters()) do p:zero_grad() end
end

-- name -> tensor for every parameter and buffer (detached views sharing the module's storage).
function Module:state_dict()
  local sd = {}
  for _, p in ipairs(self:named_parameters()) do sd[p[1]] = p[2]:detach() end
  for _, b in ipairs(self:named_buffers()) do sd[b[1]] = b[2]:detach() end
  return sd
end

local function shape_text(t) return '[' .. table.concat(t:size(), ', ') .. ']' end

-- Copies a state dict into the module's tensors. {strict=true} (the default) makes missing or unexpected
-- names an error; a shape mismatch is always an error. The message lists every name at fault. Returns
-- {missing = {...}, unexpected = {...}}.
function Module:load_state_dict(sd, opts)
  if type(sd) ~= 'table' then error('load_state_dict: argument 1 must be a table of name -> tensor', 2) end
  local strict = not (opts and opts.strict == false)
  local own = {}
  for _, p in ipairs(self:named_parameters()) do own[#own + 1] = p end
  for _, b in ipairs(self:named_buffers()) do own[#own + 1] = b end
  local known, missing, unexpected, mismatched = {}, {}, {}, {}
  for _, e in ipairs(own) do
    local name, t = e[1], e[2]
    known[name] = true
    local src = sd[name]
    if src == nil then
      missing[#missing + 1] = name
    elseif not T.is_tensor(src) then
      mismatched[#mismatched + 1] = name .. ' (not a tensor: ' .. type(src) .. ')'
    elseif table.concat(src:size(), ',') ~= table.concat(t:size(), ',') then
      mismatched[#mismatched + 1] = string.format('%s (checkpoint %s, module %s)', name, shape_text(src), shape_text(t))
    end
  end
  for k in pairs(sd) do if not known[k] then unexpected[#unexpected + 1] = tostring(k) end end
  table.sort(unexpected)
  local problems = {}
  if #mismatched > 0 then problems[#problems + 1] = 'shape mismatch: ' .. table.concat(mismatched, ', ') end
  if strict and #missing > 0 then problems[#problems + 1] = 'missing: ' .. table.concat(missing, ', ') end
  if strict and #unexpected > 0 then problems[#problems + 1] = 'unexpected: ' .. table.concat(unexpected, ', ') end
  if #problems > 0 then
    error('load_state_dict: ' .. self.__name .. ': ' .. table.concat(problems, '; '), 2)
  end
  for _, e in ipairs(own) do
    local src = sd[e[1]]
    if src ~= nil then e[2]:copy_(src) end
  end
  return { missing = missing, unexpected = unexpected }
end

-- The one-line description inside the tree: Linear(in_features=2, out_features=3, bias=true).
function Module:extra_repr() return '' end

local function count_text(n)
  local s = tostring(n):reverse():gsub('(%d%d%d)', '%1,'):reverse()
  return (s:gsub('^,', ''))
end

function Module:tree(indent)
  indent = indent or ''
  local head = self.__name .. '(' .. self:extra_repr()
  local children = self:children()
  local n = self:num_parameters()
  local params = n > 0 and ('  [' .. count_text(n) .. ' params]') or ''
  if #children == 0 then return head .. ')' .. params end
  local lines = { head }
  for _, c in ipairs(children) do
    lines[#lines + 1] = indent .. '  (' .. c[1] .. '): ' .. c[2]:tree(indent .. '  ')
  end
  lines[#lines + 1] = indent .. ')' .. params
  return table.concat(lines, '\n')
end

Module.__tostring = Module.tree
Module.__call = function(m, ...) return m:forward(...) end

return Module
