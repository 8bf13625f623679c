-- Learning-rate schedules as per-step functions: sched(step) -> lr, step counting from 0.
-- Use: for step = 0, n - 1 do opt:set_lr(sched(step)); ... opt:step() end
local M = {}

local function need(v, name, fname)
  if type(v) ~= 'number' then error(string.format('%s: %s must be a number, got %s', fname, name, tostring(v)), 3) end
end

-- lr = base_lr * gamma ^ floor(step / step_size)  (StepLR)
function M.step(base_lr, step_size, gamma)
  need(base_lr, 'base_lr', 'schedule.step'); need(step_size, 'step_size', 'schedule.step')
  gamma = gamma or 0.1
  return function(step) return base_lr * gamma ^ math.floor(step / step_size) end
end

-- Cosine from base_lr at step 0 to min_lr at total_steps, then min_lr (CosineAnnealingLR's closed form).
function M.cosine(base_lr, total_steps, min_lr)
  need(base_lr, 'base_lr', 'schedule.cosine'); need(total_steps, 'total_steps', 'schedule.cosine')
  min_lr = min_lr or 0
  return function(step)
    if step >= total_steps then return min_lr end
    return min_lr + (base_lr - min_lr) * 0.5 * (1 + math.cos(math.pi * step / total_steps))
  end
end

-- Linear warm-up from 0 to base_lr over warmup_steps (lr = base_lr * (step + 1) / warmup_steps), then cosine
-- to min_lr at total_steps.
function M.warmup_cosine(base_lr, warmup_steps, total_steps, min_lr)
  need(base_lr, 'base_lr', 'schedule.warmup_cosine'); need(warmup_steps, 'warmup_steps', 'schedule.warmup_cosine')
  need(total_steps, 'total_steps', 'schedule.warmup_cosine')
  min_lr = min_lr or 0
  local cos = M.cosine(base_lr, math.max(total_steps - warmup_steps, 1), min_lr)
  return function(step)
    if step < warmup_steps then return base_lr * (step + 1) / warmup_steps end
    return cos(step - warmup_steps)
  end
end

return M
