-- A chain of modules. Children are named '0', '1', ... as in PyTorch, so state-dict names ('0.weight')
-- match PyTorch checkpoints; seq:get(i) takes the usual 1-based Lua position.
local Sequential = require('prior.nn.Module'):extend('Sequential')

-- Sequential(m1, m2, ...) or Sequential{m1, m2, ...}
function Sequential:__init(...)
  local list = { ... }
  if #list == 1 and type(list[1]) == 'table' and not self.is_module(list[1]) then list = list[1] end
  for i, m in ipairs(list) do
    if not self.is_module(m) then
      error(string.format('Sequential: argument %d must be a module, got %s', i, type(m)), 3)
    end
    self:add_module(tostring(i - 1), m)
  end
end

-- Appends a module; returns the Sequential.
function Sequential:add(m)
  self:add_module(tostring(#self:children()), m)
  return self
end

function Sequential:get(i)
  local c = self:children()
  if i < 0 then i = #c + i + 1 end
  return c[i] and c[i][2] or nil
end

function Sequential:size() return #self:children() end

function Sequential:forward(x)
  for _, c in ipairs(self:children()) do x = c[2]:forward(x) end
  return x
end

return Sequential
