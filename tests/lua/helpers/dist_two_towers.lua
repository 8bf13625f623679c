-- Data-parallel training of two linear towers (the first with batch norm: synchronised across processes) under
-- the global InfoNCE loss, for tests/lua/test_dist.lua:
--   mpirun -np N prior tests/lua/helpers/dist_two_towers.lua OUT   (N processes, each its slice of the batch)
--   prior tests/lua/helpers/dist_two_towers.lua OUT                (one process, the whole batch)
-- Both draw the same global batches (same seed) and take five Adam steps (updates during backward, gradients
-- averaged over processes); process 0 writes the final weights to OUT, one number per line (%.17g).
local prior = require 'prior'
local ffi = require 'ffi'
local T = require 'prior.tensor'
local C = require('prior.capi').C

local out = assert(arg[1], 'usage: dist_two_towers.lua OUT')
local dist = prior.dist
dist.init()
local rank, world = dist.rank(), dist.size()
local global_batch, dim_in, dim = 12, 6, 4
assert(global_batch % world == 0, 'the global batch must split evenly')
local per = global_batch / world

prior.seed(5)
local wa = prior.randn({ dim_in, dim }, { dtype = 'f64' }):requires_grad(true)
local wb = prior.randn({ dim_in, dim }, { dtype = 'f64' }):requires_grad(true)
local scale = prior.tensor({ 1.0 }, { dtype = 'f64' }):requires_grad(true)
local bn = prior.nn.BatchNorm2d(dim)
bn.weight = prior.tensor({ 1.0, 0.5, 2.0, 1.5 }, { dtype = 'f64' }):requires_grad(true) -- f64 like the rest
bn.bias = prior.zeros({ dim }, { dtype = 'f64', requires_grad = true })
bn.running_mean, bn.running_var = prior.zeros({ dim }, { dtype = 'f64' }), prior.ones({ dim }, { dtype = 'f64' })
local params = { wa, wb, scale, bn.weight, bn.bias }
local opt = prior.optim.Adam(params, { lr = 0.05 })
for step = 1, 5 do
  local x = prior.randn({ global_batch, dim_in }, { dtype = 'f64' }) -- the same global batch in every process
  local y = x + prior.randn({ global_batch, dim_in }, { dtype = 'f64' }) * 0.3
  local xs, ys = x:narrow(1, rank * per + 1, per), y:narrow(1, rank * per + 1, per)
  local a = bn(xs:matmul(wa):reshape({ per, dim, 1, 1 })):reshape({ per, dim })
  local loss = T.wrap(C.prior_infonce(a.h, (ys:matmul(wb)).h, scale.h))
  opt:backward_step(loss, dist.average_gradient)
end
if rank == 0 then
  local f = assert(io.open(out, 'w'))
  for _, p in ipairs({ wa, wb, scale, bn.weight, bn.bias, bn.running_mean, bn.running_var }) do
    for _, v in ipairs(p:reshape({ -1 }):totable()) do f:write(string.format('%.17g\n', v)) end
  end
  f:close()
end
dist.finalize()
