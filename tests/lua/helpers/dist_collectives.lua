-- prior.dist's collectives from Lua in every process of `mpirun -np N prior tests/lua/helpers/dist_collectives.lua`
-- (tests/lua/test_dist.lua): each process checks the results and exits non-zero on a mismatch.
local prior = require 'prior'
local t = require 'prior.testing'
local dist = prior.dist
local rank, size = dist.init()

t.test('collectives', function()
  t.truthy(size > 1, 'several processes')
  local v = dist.all_reduce(prior.tensor({ rank + 1, 1 }, { dtype = 'f64' }))
  t.all_near(v, { size * (size + 1) / 2, size }, 0)
  local b = dist.broadcast(prior.tensor({ 10 * rank }), size - 1)
  t.all_near(b, { 10 * (size - 1) }, 0)
  local x = prior.tensor({ { rank, -rank } }, { dtype = 'f64' }):requires_grad(true)
  local g = dist.all_gather(x)
  t.eq(g:size()[1], size)
  t.all_near(g:select(1, size), { size - 1, 1 - size }, 0)
  -- differentiable sum: d(sum over processes of s)/dx, each process's s = 3 * sum(x); every process's result
  -- depends on this x, so its gradient is size * 3
  local s = dist.sum((x * 3):sum())
  t.near(s:item(), 0, 1e-12) -- rank and -rank cancel
  s:backward()
  t.all_near(x.grad, { { 3 * size, 3 * size } }, 0)
  t.raises(function() dist.all_reduce(prior.tensor({ { 1, 2 }, { 3, 4 } }):t()) end, 'needs a contiguous CPU tensor')
  t.raises(function() dist.all_reduce(3) end, 'argument 1 must be a tensor')
  t.raises(function() dist.broadcast(prior.tensor({ 1 }), size) end, 'root ' .. size)
end)

t.finally(function() dist.finalize() end)
t.run()
