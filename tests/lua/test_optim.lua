-- prior.optim from Lua: convergence, the closed-form first Adam step, schedules, clipping, checkpoints.
local T = require 'prior.testing'
local optim = prior.optim

local function quadratic_loss(w, c) return ((w - c) ^ 2):sum() end

T.test('SGD with momentum and Adam minimise a quadratic', function()
  for _, make in ipairs({
    function(p) return optim.SGD({p}, {lr = 0.05, momentum = 0.9, nesterov = true}) end,
    function(p) return optim.Adam({p}, {lr = 0.1}) end,
    function(p) return optim.AdamW({p}, {lr = 0.1, weight_decay = 0}) end,
  }) do
    local w = prior.zeros(3, {requires_grad = true})
    local c = prior.tensor{1, -2, 3}
    local opt = make(w)
    for _ = 1, 300 do
      opt:zero_grad()
      quadratic_loss(w, c):backward()
      opt:step()
    end
    T.all_near(w, {1, -2, 3}, 1e-2, tostring(opt))
  end
end)

T.test('the first Adam step moves by lr * sign(grad)', function()
  local w = prior.tensor({1, 1}, {requires_grad = true})
  local opt = optim.Adam({w}, {lr = 0.1})
  local loss = (w * prior.tensor{3, -0.5}):sum()
  loss:backward()
  opt:step()
  T.all_near(w, {0.9, 1.1}, 1e-6)
end)

T.test('optimizer state dicts resume identically', function()
  local function run(steps, resume_from)
    local w = prior.tensor({1, 2}, {requires_grad = true})
    local opt = optim.Adam({w}, {lr = 0.05, weight_decay = 0.1})
    if resume_from then w:copy_(resume_from.w); opt:load_state_dict(resume_from.opt) end
    for _ = 1, steps do opt:zero_grad(); quadratic_loss(w, prior.tensor{0, 0}):backward(); opt:step() end
    return w, opt
  end
  local w_full = run(6)
  local w_half, opt_half = run(3)
  local w_resumed = run(3, {w = w_half:detach():clone(), opt = opt_half:state_dict()})
  T.all_near(w_resumed, w_full, 1e-7)
  T.eq(opt_half:state_dict().state[1].step, 3)
  T.raises(function() opt_half:load_state_dict({state = {{exp_avg = prior.zeros(5)}}, param_groups = {{}}}) end,
           'has shape [5], the parameter [2]')
end)

T.test('options are checked', function()
  local w = prior.zeros(2, {requires_grad = true})
  T.raises(function() optim.SGD({w}, {}) end, 'SGD: option lr is required')
  T.raises(function() optim.Adam({w}, {lr = 1, betas = 2}) end, "Adam: unknown option 'betas'")
  T.raises(function() optim.SGD({prior.zeros(2)}, {lr = 1}) end, 'parameter 1 does not require grad')
  T.raises(function() optim.SGD({w}, {lr = 1, nesterov = true}) end, 'nesterov needs momentum > 0')
end)

T.test('schedules', function()
  local s = optim.schedule
  T.near(s.step(1, 10, 0.5)(9), 1); T.near(s.step(1, 10, 0.5)(10), 0.5); T.near(s.step(1, 10, 0.5)(25), 0.25)
  local cos = s.cosine(1, 100, 0.1)
  T.near(cos(0), 1); T.near(cos(50), 0.55, 1e-12); T.near(cos(100), 0.1); T.near(cos(150), 0.1)
  local wc = s.warmup_cosine(2, 4, 104)
  T.near(wc(0), 0.5); T.near(wc(3), 2); T.near(wc(4), 2); T.near(wc(54), 1, 1e-12); T.near(wc(104), 0)
end)

T.test('clip_grad_norm_ returns the norm and scales the gradients', function()
  local a = prior.tensor({0, 0}, {requires_grad = true})
  local b = prior.tensor({0}, {requires_grad = true})
  local n = prior.zeros(1, {requires_grad = true}) -- no gradient: skipped
  local loss = (a * prior.tensor{3, 0}):sum() + (b * prior.tensor{4}):sum()
  loss:backward()
  T.near(optim.clip_grad_norm_({a, b, n}, 1), 5, 1e-6)
  T.all_near(a.grad, {0.6, 0}, 1e-5); T.all_near(b.grad, {0.8}, 1e-5)
  T.near(optim.clip_grad_norm_({a, b}, 10), 1, 1e-5)
  T.all_near(a.grad, {0.6, 0}, 1e-5)
end)

-- Optimizer:backward_step(loss): the update applied to each parameter as soon as backward has completed its gradient.
T.test('backward_step equals backward + step + zero_grad and reports the gradient norm', function()
  for _, make in ipairs({
    function(ps) return optim.SGD(ps, {lr = 0.05, momentum = 0.9}) end,
    function(ps) return optim.Adam(ps, {lr = 0.1, weight_decay = 0.01}) end,
    function(ps) return optim.AdamW(ps, {lr = 0.1}) end,
  }) do
    local function params()
      return { prior.tensor({0.5, -1, 2}, {requires_grad = true}), prior.tensor({{1, 2}, {3, 4}}, {requires_grad = true}),
               prior.tensor({7}, {requires_grad = true}) } -- the third takes no part in the loss
    end
    local function loss_of(p) -- p[1] on two paths, p[2] through a matmul and a view
      local h = p[2]:matmul(p[1]:narrow(1, 1, 2):reshape({2, 1})):sum()
      return (p[1] * p[1]):sum() + h * (p[1]:sum()) + p[2]:t():exp():sum()
    end
    local a, b = params(), params()
    local opt_a, opt_b = make(a), make(b)
    for step = 1, 3 do
      loss_of(a):backward()
      local want_norm = optim.clip_grad_norm_(a, math.huge)
      opt_a:step()
      opt_a:zero_grad()
      local norm = opt_b:backward_step(loss_of(b))
      T.near(norm, want_norm, 1e-9 * want_norm, tostring(opt_b) .. ' norm, step ' .. step)
      for i = 1, 3 do
        T.eq((a[i] - b[i]):abs():max():item(), 0, tostring(opt_b) .. ' parameter ' .. i .. ', step ' .. step)
        T.truthy(b[i].grad == nil, 'the gradient was freed')
      end
    end
  end
  local w = prior.tensor({1}, {requires_grad = true})
  T.raises(function() optim.Adam({w}, {lr = 1}):backward_step(3) end, 'argument 1 must be a tensor')
  local bad = optim.Adam({w}, {lr = 1})
  function bad:update() error('no update today') end
  T.raises(function() bad:backward_step((w * 2):sum()) end, 'no update today')
end)

T.test('backward_step on the PRIOR model equals the separate update bit for bit (stage 3, two steps)', function()
  local PRIOR = require 'prior.models.prior'
  local make_batch = dofile('tests/lua/helpers/prior_batch.lua')
  local models, opts = {}, {}
  for k = 1, 2 do
    prior.seed(3)
    models[k] = PRIOR{ preset = 'tiny', vocab_size = 50 }
    opts[k] = optim.Adam(models[k]:parameters(), {lr = 1e-3})
  end
  prior.seed(4)
  local batch = make_batch(models[1].config.image_size)
  for step = 1, 2 do
    prior.seed(10 + step) -- the same dropout masks and Gumbel noise for both
    models[1]:step(batch, 3, 0.5).total:backward()
    opts[1]:step()
    opts[1]:zero_grad()
    prior.seed(10 + step)
    opts[2]:backward_step(models[2]:step(batch, 3, 0.5).total)
  end
  local names, differing = 0, {}
  for name, p in pairs(models[1].tensors) do
    names = names + 1
    local q = models[2].tensors[name]
    if p:dtype() ~= 'i64' and (p - q):abs():max():item() ~= 0 then differing[#differing + 1] = name end
  end
  T.truthy(names > 50, 'the model has its parameters')
  T.eq(#differing, 0, 'parameters that differ: ' .. table.concat(differing, ', '))
end)

T.run()
