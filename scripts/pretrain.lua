-- PRIOR pre-training: the three stages (global + local alignment; + SPB; + CCR), then zero-shot classification and
-- image-to-text retrieval. With no arguments it is the project's main job: it generates the built-in synthetic
-- set if it is missing, pre-trains the tiny preset, evaluates, and prints the scores.
--
--   prior scripts/pretrain.lua [--config tiny|paper|FILE.lua] [--data DIR] [--out DIR] [--resume] [--seed N]
--                              [--epochs-scale X] [--lam-activation sigmoid|softmax] [--no-eval] [--quiet]
--                              [--sentence-pool avg|max|min|attention]
--                              [--lr X] [--stages N] [--max-steps N] [--shuffle-pairs] [--checkpoint-every N]
--                              [--stop-after N] [--poison-step N] [--autocast]
-- --checkpoint-every N overrides the preset's checkpoint interval; --stop-after N exits abruptly after global step N
-- (resume tests); --autocast trains in mixed precision (bf16 matmuls and convolutions, f32 weights: prior.autocast;
-- also `train.autocast = true` in a config); --poison-step N sets a parameter to NaN before step N (the NaN test). --sentence-pool overrides the
-- preset's model.sentence_pool (zeroshot.lua and retrieval.lua then need a --config with the same pool: 'attention'
-- has parameters of its own). --epochs-scale multiplies every stage's epochs; --stages N runs only the first N
-- stages; --max-steps N caps each stage at N steps (smoke tests); --shuffle-pairs is the control run (every image
-- trained with another study's report: nothing to learn, so evaluation should stay near chance).
-- Outputs in --out (default runs/pretrain-<preset>): log.jsonl and log.csv (every step: step, stage, epoch, lr, tau,
-- time, the loss terms, grad_norm; the CSV has a header line and an empty cell for a term its stage does not have),
-- checkpoint.safetensors (the latest, with optimizer and run state; --resume continues from it and appends to both
-- logs), stageN.safetensors, prior.safetensors (the final model) and results.txt.
-- Under `mpirun -np N` it trains data parallel: each process its shard of every global batch of N x batch_size,
-- gradients averaged over processes, the global contrastive losses and batch norm over the whole global batch;
-- process 0 prints, logs (each loss term as the mean over processes), writes the checkpoints and evaluates.
local ffi = require 'ffi'
local prior = require 'prior'
local PRIOR = require 'prior.models.prior'
local checkpoint = require 'prior.train.checkpoint'
local runlog = require 'prior.train.log'
local eval = require 'prior.eval'
local cli = require 'prior.cli'
local C = require('prior.capi').C

-- ---- arguments ---------------------------------------------------------------------------------------------------
local opts = cli.parse('pretrain', { config = 'tiny', data = 'data/synthetic', out = false, seed = 0,
                                   ['epochs-scale'] = 1, lr = false, stages = false, ['lam-activation'] = false,
                                   ['sentence-pool'] = false,
                                   ['max-steps'] = false, ['checkpoint-every'] = false, ['stop-after'] = false,
                                   ['poison-step'] = false },
                      { 'resume', 'quiet', 'shuffle-pairs', 'no-eval', 'autocast' }, cli.header(arg[0]))
opts.eval = not opts['no-eval']
local cfg = cli.config(opts.config)
if opts.lr then cfg.train.lr = opts.lr end
if opts['checkpoint-every'] then cfg.train.checkpoint_every = opts['checkpoint-every'] end
if opts.stages then -- only the first N stages (quick checks)
  for s = opts.stages + 1, 3 do cfg.train.stages[s] = nil end
end
-- Several processes (mpirun -np N): each trains on its shard of every global batch of N x batch_size; gradients
-- are averaged before each update and the global contrastive losses see the whole global batch; process 0 writes
-- the logs and checkpoints and evaluates.
local dist = prior.dist
if os.getenv('OMPI_COMM_WORLD_SIZE') or os.getenv('PMI_SIZE') then dist.init() end
local rank, world = dist.rank(), dist.size()
if cfg.train.sync_batch_norm == false then dist.sync_batch_norm(false) end -- each process normalises its own rows
local main_rank = rank == 0
local out = opts.out ~= false and opts.out or ('runs/pretrain-' .. (cfg.preset or 'custom'))
if main_rank then os.execute('mkdir -p "' .. out .. '"') end
local function say(...)
  if main_rank and not opts.quiet then io.stdout:write(string.format(...), '\n'); io.stdout:flush() end
end
if world > 1 then say('processes: %d (global batch %d)', world, world * cfg.data.batch_size) end

-- ---- data ----------------------------------------------------------------------------------------------------------
local d = cfg.data
local t0 = os.time()
local function synthetic()
  return prior.data.synthetic{ root = opts.data, seed = d.seed, image_size = d.image_size,
                                    mimic_subjects = d.mimic_subjects, chexpert_patients = d.chexpert_patients,
                                    per_class = d.per_class, trees = { 'mimic', 'chexpert' } }
end
if not main_rank then dist.barrier() end -- the others wait while process 0 writes the set (if it is missing)
local paths = synthetic()
if main_rank and world > 1 then dist.barrier() end
local tok = prior.data.tokenizer(paths.vocab, { lowercase = true })
local train = prior.data.mimic{ root = paths.mimic, split = 'train' }
say('data: %d training pairs from %s (dropped: %s); vocabulary of %d', train:size(), paths.mimic,
    prior.data.format_drops and prior.data.format_drops(train:drops()) or '-', tok:vocab_size())
local loader = prior.data.loader(train, { batch_size = d.batch_size, image_size = d.image_size, workers = d.workers,
                                          shuffle = true, drop_last = true, augment = d.augment, seed = opts.seed,
                                          tokenizer = tok, max_length = d.max_length, shuffle_sentences = true,
                                          shards = world, shard = rank })
local per_epoch = loader:batches_per_epoch()

-- ---- model -----------------------------------------------------------------------------------------------------------
prior.seed(opts.seed)
if opts.autocast or cfg.train.autocast then
  local _, native = prior.autocast(true)
  say('autocast: bf16 matmuls and convolutions%s', native and '' or ' on the GPU only (this CPU has no native bf16: it stays f32)')
end
local model = PRIOR.from_config(cfg, tok:vocab_size(),
                                { lam_activation = opts['lam-activation'] or nil, -- the Table 3 ablation
                                  sentence_pool = opts['sentence-pool'] or nil })
say('model: %s', tostring(model))
dist.broadcast_parameters(model) -- the same seed already gives the same weights; this makes sure
-- each process its own stream for dropout and Gumbel noise (its own samples need their own draws)
if world > 1 then prior.seed(opts.seed + 1000003 * rank) end

-- ---- schedule --------------------------------------------------------------------------------------------------------
local tr = cfg.train
local stages = {}
local n_stages = #tr.stages
for s = 1, n_stages do
  local epochs = math.max(1, math.floor(tr.stages[s].epochs * opts['epochs-scale'] + 0.5))
  stages[s] = { epochs = epochs, steps = epochs * per_epoch }
  if opts['max-steps'] and opts['max-steps'] < stages[s].steps then -- smoke tests: a few steps per stage
    stages[s] = { epochs = 1, steps = opts['max-steps'] }
  end
end
local tau_steps = (stages[2] and stages[2].steps or 0) + (stages[3] and stages[3].steps or 0) -- temperature decays over stages 2 and 3
local function temperature(stage, step_in_stage)
  if stage == 1 then return tr.tau_start end
  local t = ((stage == 3 and stages[2].steps or 0) + step_in_stage) / math.max(tau_steps - 1, 1)
  return C.prior_spb_temperature(({ fixed = 0, linear = 1, exp = 2 })[tr.tau_schedule] or 2, tr.tau_start, tr.tau_end, t)
end
local function make_optimizer(stage)
  local cls = tr.optimizer == 'adamw' and prior.optim.AdamW or prior.optim.Adam
  local lr = tr.stages[stage].lr or tr.lr -- a stage may set its own peak learning rate
  if opts.lr then lr = opts.lr end
  local opt = cls(model:parameters(), { lr = lr, weight_decay = tr.weight_decay })
  local warm = tr.warmup_steps or math.floor((tr.warmup_epochs or 0) * per_epoch)
  return opt, prior.optim.schedule.warmup_cosine(lr, math.min(warm, stages[stage].steps - 1), stages[stage].steps,
                                                  tr.min_lr or 0)
end

-- ---- resume --------------------------------------------------------------------------------------------------------------
local ckpt_path = out .. '/checkpoint.safetensors'
local state = { stage = 1, epoch = 1, batch = 0, step = 0, global_step = 0 }
local opt, sched = make_optimizer(1)
if opts.resume then
  local f = io.open(ckpt_path)
  if not f then error('pretrain: --resume but no checkpoint at ' .. ckpt_path, 0) end
  f:close()
  local saved = checkpoint.load(ckpt_path, model, nil)
  if saved.preset and saved.preset ~= (cfg.preset or 'custom') then
    error(string.format("pretrain: the checkpoint is of preset '%s', this run is '%s'", saved.preset, cfg.preset), 0)
  end
  opt, sched = make_optimizer(saved.stage)
  checkpoint.load(ckpt_path, model, opt)
  for k in pairs(state) do state[k] = saved[k] or state[k] end
  local suffix = rank > 0 and ('_' .. rank) or '' -- each process continues its own random stream
  if saved['rng_seed' .. suffix] == nil then
    error(string.format('pretrain: the checkpoint has no random state for process %d (it was written by a run of fewer '
                        .. 'processes)', rank), 0)
  end
  C.prior_rng_set_state(ffi.new('prior_rng_state', { saved['rng_seed' .. suffix], saved['rng_offset' .. suffix] }))
  say('resumed: stage %d, epoch %d, batch %d (step %d)', state.stage, state.epoch, state.batch, state.global_step)
end
local LOG_KEYS = { 'step', 'stage', 'epoch', 'lr', 'tau', 'time', 'total', 'global', 'local_image', 'local_text', 'proto',
                   'rec_image', 'spg', 'kl', 'gpa', 'grad_norm' }
local no_log = { write = function() end, close = function() end } -- processes other than 0 log nothing
local log = main_rank and runlog.open(out .. '/log.jsonl', opts.resume) or no_log
local csv = main_rank and runlog.open_csv(out .. '/log.csv', LOG_KEYS, opts.resume) or no_log -- the same records
local function log_step(rec)
  log:write(rec, LOG_KEYS)
  csv:write(rec)
end

-- Every process calls it (their random states are gathered); process 0 writes.
local function save(tag)
  local rng = C.prior_rng_get_state()
  local st = { preset = cfg.preset or 'custom', stage = state.stage, epoch = state.epoch, batch = state.batch,
               step = state.step, global_step = state.global_step, rng_seed = tonumber(rng.seed),
               rng_offset = tonumber(rng.offset) }
  if world > 1 then
    local all = dist.all_gather(prior.tensor({ { tonumber(rng.seed), tonumber(rng.offset) } }, { dtype = 'f64' })):totable()
    for r = 2, world do st['rng_seed_' .. (r - 1)], st['rng_offset_' .. (r - 1)] = all[r][1], all[r][2] end
  end
  if not main_rank then return end
  checkpoint.save(ckpt_path, model, opt, st)
  if tag then checkpoint.save(out .. '/' .. tag .. '.safetensors', model, nil, st) end
end

-- ---- training ------------------------------------------------------------------------------------------------------------
ffi.cdef [[ typedef struct { long tv_sec; long tv_nsec; } prior_timespec; int clock_gettime(int, prior_timespec *); ]]
local timespec = ffi.new('prior_timespec')
local function now() -- monotonic wall clock
  ffi.C.clock_gettime(1, timespec)
  return tonumber(timespec.tv_sec) + tonumber(timespec.tv_nsec) * 1e-9
end

-- A random order of n rows (0-based, for index_select) from the runtime RNG: the control run pairs image i with
-- the report of row order[i].
local function shuffled_rows(n)
  local keys = prior.rand({ n }):totable()
  local order = {}
  for r = 1, n do order[r] = r - 1 end
  table.sort(order, function(a, b) return keys[a + 1] < keys[b + 1] end)
  return order
end

local total_steps = 0
for s = 1, n_stages do total_steps = total_steps + stages[s].steps end
local run_start = now()
for stage = state.stage, n_stages do
  if stage ~= state.stage then -- a new stage: new optimizer and schedule (as the reference)
    state.stage, state.epoch, state.batch, state.step = stage, 1, 0, 0
    if stage == 2 and tr.spb_init == 'data' then
      model:init_prototypes(loader, 999)
      dist.broadcast_parameters(model) -- every process starts stage 2 from process 0's prototypes
      say('stage 2: SPB prototypes initialised from sentence vectors')
    end
    opt, sched = make_optimizer(stage)
  end
  local stage_start, stage_step0 = now(), state.step
  while state.epoch <= stages[stage].epochs do
    local skip = state.batch -- a resumed epoch skips the batches already trained on
    local seen = 0
    local epoch_id = (stage - 1) * 1000 + state.epoch
    for batch in loader:epoch(epoch_id) do
      seen = seen + 1
      if state.step >= stages[stage].steps then break end -- --max-steps cut the epoch short
      if seen > skip then
        local t_step = now()
        local lr, tau = sched(state.step), temperature(stage, state.step)
        opt:set_lr(lr)
        if opts['shuffle-pairs'] then -- the control: each image meets another study's report
          local perm = prior.tensor(shuffled_rows(batch.size), { dtype = 'i64' })
          for _, name in ipairs({ 'input_ids', 'attention_mask', 'sentence_index' }) do
            batch[name]:copy_(batch[name]:index_select(1, perm)) -- in place: the C batch sees it
          end
        end
        if opts['poison-step'] == state.global_step then -- tests: a NaN parameter, to prove the run stops cleanly
          model.tensors.logit_scale:fill_(0 / 0)
        end
        local losses = model:step(batch, stage, tau)
        local rec = { step = state.global_step, stage = stage, epoch = state.epoch, lr = lr, tau = tau }
        for i = 2, #PRIOR.TERMS + 1 do -- the terms first, then the total: a NaN is reported where it started
          local k = PRIOR.TERMS[i] or 'total'
          if losses[k] then
            rec[k] = losses[k]:item()
            if rec[k] ~= rec[k] or rec[k] == math.huge or rec[k] == -math.huge then
              log_step(rec)
              error(string.format('pretrain: the %s loss became %s at step %d (stage %d); the last good checkpoint is %s',
                                  k, tostring(rec[k]), state.global_step, stage, ckpt_path), 0)
            end
          end
        end
        if tr.clip then -- clipping needs every gradient before the first update
          losses.total:backward()
          dist.average_gradients(model)
          rec.grad_norm = prior.optim.clip_grad_norm_(model:parameters(), tr.clip)
          opt:step()
          model:zero_grad()
        else -- the same update, each parameter's as soon as its gradient is complete (the gradients never all exist)
          rec.grad_norm = opt:backward_step(losses.total, world > 1 and dist.average_gradient or nil)
        end
        if world > 1 then -- log the mean over processes: the loss one process would have on the global batch
          local keys, values = {}, {}
          for _, k in ipairs(PRIOR.TERMS) do
            if rec[k] then keys[#keys + 1], values[#values + 1] = k, rec[k] end
          end
          local mean = dist.all_reduce(prior.tensor(values, { dtype = 'f64' })):totable()
          for i, k in ipairs(keys) do rec[k] = mean[i] / world end
        end
        state.step, state.global_step, state.batch = state.step + 1, state.global_step + 1, seen
        rec.time = now() - t_step
        log_step(rec)
        if state.global_step % (tr.log_every or 10) == 0 then
          local done = state.step - stage_step0
          local per = (now() - stage_start) / math.max(done, 1)
          local remaining = (stages[stage].steps - state.step) * per
          for s = stage + 1, n_stages do remaining = remaining + stages[s].steps * per * (s == 3 and 1.5 or 1) end
          say('%s', runlog.progress(stage, state.step, stages[stage].steps, per, remaining, rec, PRIOR.TERMS))
        end
        if tr.checkpoint_every and state.global_step % tr.checkpoint_every == 0 then save() end
        if opts['stop-after'] and state.global_step >= opts['stop-after'] then
          os.exit(3, false) -- tests: die here as a killed run would, without closing anything
        end
      end
    end
    state.epoch, state.batch = state.epoch + 1, 0
  end
  save('stage' .. stage)
  say('stage %d done: %d steps in %s', stage, stages[stage].steps, runlog.hms(now() - stage_start))
end
log:close()
csv:close()
local stats = loader:stats()
say('training: %d steps in %s; loader: %s', total_steps, runlog.hms(now() - run_start), tostring(stats.summary or ''))
if main_rank then model:save(out .. '/prior.safetensors', { preset = cfg.preset or 'custom' }) end

-- ---- evaluation -----------------------------------------------------------------------------------------------------
if opts.eval and main_rank then
  local eval_loader, _, class_of = eval.chexpert_loader(paths.chexpert, cfg)
  local zs = eval.zeroshot(model, tok, eval_loader, class_of, { prompt = cfg.eval.prompts, local_weight = cfg.eval.local_weight,
                                                               use_spb = cfg.eval.use_spb, tau = cfg.eval.tau })
  say('zero-shot classification (CheXpert 5x%d, %d images): accuracy %.4f  precision %.4f  recall %.4f  F1 %.4f  kappa %.4f',
      d.per_class, zs.n, zs.accuracy, zs.precision, zs.recall, zs.f1, zs.kappa)
  say('%s', eval.format_confusion(zs.confusion, eval.CLASSES))
  -- the report pool: test studies whose labels name exactly one of the five classes
  local test = prior.data.mimic{ root = paths.mimic, split = 'test' }
  local reports, report_class = eval.report_pool(test, eval.CLASSES)
  local rt
  if #reports > 0 then
    rt = eval.retrieval(model, tok, eval_loader, class_of, reports, report_class, { k = cfg.eval.retrieval_k, use_spb = cfg.eval.use_spb,
                                                                                 tau = cfg.eval.tau })
    local parts = {}
    for _, k in ipairs(cfg.eval.retrieval_k) do parts[#parts + 1] = string.format('P@%d %.4f', k, rt['p@' .. k]) end
    say('image-to-text retrieval (%d images, %d reports): %s', rt.n_queries, rt.n_reports, table.concat(parts, '  '))
  else
    say('image-to-text retrieval skipped: no test report names exactly one of the classes')
  end
  local f = io.open(out .. '/results.txt', 'w')
  f:write(string.format('zeroshot_accuracy %.6f\nzeroshot_f1 %.6f\nzeroshot_kappa %.6f\n', zs.accuracy, zs.f1, zs.kappa))
  for _, k in ipairs(rt and cfg.eval.retrieval_k or {}) do f:write(string.format('retrieval_p@%d %.6f\n', k, rt['p@' .. k])) end
  f:close()
end
say('done in %s; outputs in %s', runlog.hms(now() - run_start), out)
dist.finalize()
