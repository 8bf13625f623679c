-- Trains a small MLP on the two-spirals problem with the public Lua API only (nn.Linear, nn.Tanh,
-- optim.Adam, prior.cross_entropy) and reports the training accuracy.
--
--   prior scripts/two_spirals.lua [--points 200] [--steps 600] [--hidden 64] [--seed 1]
--
-- Returns the accuracy when loaded with dofile (the test does that).
local prior = require 'prior'
local nn, optim = prior.nn, prior.optim

local opts = { points = 200, steps = 600, hidden = 64, seed = 1, lr = 0.01, quiet = false }
local argv = arg or {}
local i = 1
while argv[i] do
  local k = argv[i]:match('^%-%-(.+)$')
  if not k or opts[k] == nil then error('two_spirals: unknown argument ' .. tostring(argv[i]), 0) end
  if k == 'quiet' then opts.quiet = true; i = i + 1
  else opts[k] = tonumber(argv[i + 1]); i = i + 2 end
end
if TWO_SPIRALS_OPTS then for k, v in pairs(TWO_SPIRALS_OPTS) do opts[k] = v end end
local function say(...) if not opts.quiet then print(string.format(...)) end end

-- Two interleaved spirals, three quarters of a turn past one full turn each, with a little noise.
local function spirals(n, seed)
  math.randomseed(seed)
  local xs, ys = {}, {}
  for j = 1, n do
    local t = math.sqrt((j - 0.5) / n) * 3.5 * math.pi
    for class = 0, 1 do
      local s = class == 0 and 1 or -1
      xs[#xs + 1] = { s * -math.cos(t) * t / 4 + 0.05 * (math.random() - 0.5),
                      s * math.sin(t) * t / 4 + 0.05 * (math.random() - 0.5) }
      ys[#ys + 1] = class
    end
  end
  return prior.tensor(xs), prior.tensor(ys, { dtype = 'i64' })
end

prior.seed(opts.seed)
local x, y = spirals(opts.points, opts.seed)
local model = nn.Sequential(nn.Linear(2, opts.hidden), nn.Tanh(), nn.Linear(opts.hidden, opts.hidden), nn.Tanh(),
                            nn.Linear(opts.hidden, 2))
local opt = optim.Adam(model, { lr = opts.lr })
local sched = optim.schedule.warmup_cosine(opts.lr, 50, opts.steps, opts.lr * 0.05)
say('%s', tostring(model))

local function accuracy()
  return prior.no_grad(function()
    return model(x):argmax(2):eq(y):float():mean():item()
  end)
end

local t0 = os.clock()
local wall0 = os.time()
for step = 0, opts.steps - 1 do
  opt:set_lr(sched(step))
  opt:zero_grad()
  local loss = prior.cross_entropy(model(x), y)
  loss:backward()
  opt:step()
  if step % 250 == 0 or step == opts.steps - 1 then
    say('step %4d  loss %.4f  accuracy %.4f', step, loss:item(), accuracy())
  end
end
local acc = accuracy()
say('final accuracy %.4f on %d points after %d steps (%.2f s CPU, ~%d s wall)', acc, 2 * opts.points, opts.steps,
    os.clock() - t0, os.time() - wall0)
return acc
