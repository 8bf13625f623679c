-- prior.dist: several processes training one model, data parallel (prior/dist.h; MPI on the CPU). Launch with
-- `mpirun -np N prior script.lua`; each process calls prior.dist.init(), reads its shard of every global batch
-- (the loader's shards/shard options), and averages the gradients before each update. The global contrastive
-- losses all-gather their embeddings themselves. Without MPI, or without init(), the world is one process.
local capi = require 'prior.capi'
local T = require 'prior.tensor'
local C = capi.C

local M = {}

-- Whether this build can run several processes.
function M.available() return C.prior_dist_available() ~= 0 end
-- Joins the job mpirun started (a process it did not start is a world of one); returns rank, size.
function M.init()
  capi.status(C.prior_dist_init(), 2)
  return M.rank(), M.size()
end
function M.rank() return tonumber(C.prior_dist_rank()) end
function M.size() return tonumber(C.prior_dist_size()) end
function M.barrier() capi.status(C.prior_dist_barrier(), 2) end
function M.finalize() capi.status(C.prior_dist_finalize(), 2) end

local function tensor_arg(t, fname)
  if not T.is_tensor(t) then error(fname .. ': argument 1 must be a tensor', 3) end
  return t
end

-- Sums t (contiguous f32/f64) over the processes, in place; returns t.
function M.all_reduce(t)
  capi.status(C.prior_dist_all_reduce_sum(tensor_arg(t, 'all_reduce').h), 2)
  return t
end
-- Overwrites t with process `root`'s values (default 0); returns t.
function M.broadcast(t, root)
  capi.status(C.prior_dist_broadcast(tensor_arg(t, 'broadcast').h, root or 0), 2)
  return t
end
-- Every process's t concatenated along dim 1 in rank order; differentiable.
function M.all_gather(t)
  local h = C.prior_dist_all_gather(tensor_arg(t, 'all_gather').h)
  if h == nil then capi.fail(2) end
  return T.wrap(h)
end

-- The sum over processes of t as a new tensor, differentiable (the gradient of t is the sum of the processes'
-- gradients of the result); all_reduce is the in-place, non-differentiable one.
function M.sum(t)
  local h = C.prior_dist_all_reduce(tensor_arg(t, 'sum').h)
  if h == nil then capi.fail(2) end
  return T.wrap(h)
end

-- sync_batch_norm([on]): whether batch norm layers in training use the global batch's statistics when there are
-- several processes (on by default, as the reference trains); returns the previous setting.
function M.sync_batch_norm(on)
  if on == nil then return C.prior_dist_set_sync_batch_norm(C.prior_dist_set_sync_batch_norm(1)) ~= 0 end
  return C.prior_dist_set_sync_batch_norm(on and 1 or 0) ~= 0
end
function M.sync_batch_norm_active() return C.prior_dist_sync_batch_norm_active() ~= 0 end

-- Training-mode batch norm with the global batch's statistics (the running ones updated in place);
-- opts {momentum = 0.1, eps = 1e-5}.
function M.sync_batch_norm2d(x, running_mean, running_var, weight, bias, opts)
  opts = opts or {}
  local function h(v) return v and v.h or nil end
  local out = C.prior_dist_sync_batch_norm2d(tensor_arg(x, 'sync_batch_norm2d').h, h(running_mean), h(running_var),
                                             h(weight), h(bias), opts.momentum or 0.1, opts.eps or 1e-5)
  if out == nil then capi.fail(2) end
  return T.wrap(out)
end

-- The mean over processes of one parameter's gradient, in place (nothing to do in a world of one). A parameter
-- without a gradient is skipped: it must have none in every process (a part of the model the stage does not use).
function M.average_gradient(p)
  if M.size() == 1 then return end
  local g = p.grad
  if g == nil then return end
  capi.status(C.prior_dist_all_reduce_mean(g.h), 2)
  g:free()
end

-- The same for every parameter of a module or list (the order must be the same in every process).
function M.average_gradients(params)
  if type(params) == 'table' and type(params.parameters) == 'function' then params = params:parameters() end
  for _, p in ipairs(params) do M.average_gradient(p) end
end

-- Makes every process's parameters equal to process 0's (call once after building the model).
function M.broadcast_parameters(params)
  if M.size() == 1 then return end
  if type(params) == 'table' and type(params.parameters) == 'function' then params = params:parameters() end
  for _, p in ipairs(params) do M.broadcast(p, 0) end
end

return M
