-- prior.tsne: t-SNE embeddings (prior/tsne.h) of the rows of a tensor.
local ffi = require 'ffi'
local capi = require 'prior.capi'
local T = require 'prior.tensor'
local U = require 'prior.data.util'
local C = capi.C

local METHODS = { auto = 0, exact = 1, barnes_hut = 2 }
local INITS = { pca = 0, random = 1 }

local SPEC = {
  perplexity = 'number', iterations = 'integer', theta = 'number', method = { 'auto', 'exact', 'barnes_hut' },
  init = { 'pca', 'random' }, seed = 'integer', dims = 'integer', threads = 'integer', learning_rate = 'number',
  early_exaggeration = 'number', exaggeration_iterations = 'integer', kl_every = 'integer',
}

-- prior.tsne(X, [opts]) -> Y [N, dims] f64, stats {kl, iterations, method, learning_rate, seconds, kl_trace}
return function(x, opts)
  if not T.is_tensor(x) then error('tsne: argument 1 must be a [N, D] tensor, got ' .. type(x), 2) end
  local h = x.h
  if h == nil then error('tsne: argument 1 is a tensor that was freed', 2) end
  if h.ndim ~= 2 then error(string.format('tsne: argument 1 must be a [N, D] tensor, got %d dims', h.ndim), 2) end
  U.check_opts('tsne', opts, SPEC)
  opts = opts or {}
  local n, d = tonumber(h.shape[0]), tonumber(h.shape[1])
  local o = ffi.new('prior_tsne_options')
  C.prior_tsne_options_default(o)
  if opts.dims then
    if opts.dims ~= 2 and opts.dims ~= 3 then error('tsne: option dims must be 2 or 3, got ' .. opts.dims, 2) end
    o.no_dims = opts.dims
  end
  if opts.perplexity then o.perplexity = opts.perplexity end
  if opts.iterations then o.n_iter = opts.iterations end
  if opts.theta then o.theta = opts.theta end
  if opts.method then o.method = METHODS[opts.method] end
  if opts.init then o.init = INITS[opts.init] end
  if opts.seed then
    if opts.seed < 0 then error('tsne: option seed must be >= 0, got ' .. opts.seed, 2) end
    o.seed = opts.seed
  end
  if opts.threads then o.n_threads = opts.threads end
  if opts.learning_rate then o.learning_rate = opts.learning_rate end
  if opts.early_exaggeration then o.early_exaggeration = opts.early_exaggeration end
  if opts.exaggeration_iterations then o.exaggeration_iters = opts.exaggeration_iterations end
  local st = ffi.new('prior_tsne_stats')
  local trace
  if opts.kl_every and opts.kl_every > 0 then
    o.kl_every = opts.kl_every
    local cap = math.floor(o.n_iter / opts.kl_every) + 1
    trace = ffi.new('double[?]', cap)
    st.kl_trace, st.kl_trace_cap = trace, cap
  end

  -- prior_tensor_to_f64_array reads any dtype and layout of a CPU tensor.
  local xs = ffi.new('double[?]', math.max(n * d, 1))
  capi.status(C.prior_tensor_to_f64_array(h, xs), 2)
  local dims = o.no_dims
  local y = ffi.new('double[?]', math.max(n * dims, 1))
  capi.status(C.prior_tsne_f64(xs, n, d, o, y, st), 2)
  local shape = ffi.new('int64_t[2]', n, dims)
  local out = T.wrap(C.prior_tensor_from_data(y, 2, shape, 1, C.prior_cpu()), 2)
  local stats = {
    kl = st.kl, iterations = st.n_iter, method = st.method == 1 and 'exact' or 'barnes_hut',
    learning_rate = st.learning_rate, seconds_affinities = st.seconds_affinities,
    seconds_optimise = st.seconds_optimise,
  }
  if trace then
    stats.kl_trace = {}
    for i = 0, st.kl_trace_len - 1 do stats.kl_trace[i + 1] = trace[i] end
  end
  return out, stats
end
