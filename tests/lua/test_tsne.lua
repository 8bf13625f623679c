-- prior.tsne from Lua: two Gaussian clusters stay apart, determinism, options, errors; tensors in plot.to_array.
local T = require 'prior.testing'

-- Two clusters of n points in d dims, 10 standard deviations apart along every axis.
local function clusters(n, d)
  prior.seed(11)
  local a = prior.randn(n, d)
  local b = prior.randn(n, d) + 10
  return prior.cat({ a, b }, 1)
end

-- For an embedding of clusters(n, .): how many points have their nearest neighbour in the other cluster, and
-- the distance between the cluster centroids over the mean distance of a point to its own centroid.
local function separation(y, n)
  local p = y:totable()
  local dims = #p[1]
  local function dist(a, b)
    local s = 0
    for k = 1, dims do s = s + (a[k] - b[k]) ^ 2 end
    return math.sqrt(s)
  end
  local wrong = 0
  for i = 1, 2 * n do
    local best, bj = math.huge, nil
    for j = 1, 2 * n do
      if j ~= i and dist(p[i], p[j]) < best then best, bj = dist(p[i], p[j]), j end
    end
    if (i <= n) ~= (bj <= n) then wrong = wrong + 1 end
  end
  local cen = { {}, {} }
  for c = 1, 2 do
    for k = 1, dims do
      local s = 0
      for i = (c - 1) * n + 1, c * n do s = s + p[i][k] end
      cen[c][k] = s / n
    end
  end
  local spread = 0
  for i = 1, 2 * n do spread = spread + dist(p[i], cen[i <= n and 1 or 2]) end
  return wrong, dist(cen[1], cen[2]) / (spread / (2 * n))
end

T.test('two Gaussian clusters are separated (exact and Barnes-Hut)', function()
  local n = 30
  local x = clusters(n, 5)
  for _, method in ipairs({ 'exact', 'barnes_hut' }) do
    local y, st = prior.tsne(x, { perplexity = 10, iterations = 400, method = method, threads = 1 })
    T.eq(table.concat(y:size(), 'x'), (2 * n) .. 'x2')
    T.eq(y:dtype(), 'f64')
    T.eq(st.iterations, 400)
    T.eq(st.method, method)
    T.truthy(st.kl > 0 and st.kl < 2, method .. ' kl ' .. st.kl)
    local wrong, ratio = separation(y, n)
    T.eq(wrong, 0, method .. ': points whose nearest neighbour is in the other cluster')
    print(string.format('      %s: centroid distance / mean spread %.3g, kl %.3f', method, ratio, st.kl))
    T.truthy(ratio > 3, string.format('%s: centroid distance / mean spread = %.3g', method, ratio))
  end
end)

T.test('same seed, same embedding; 3 dims; f32 input; KL trace', function()
  local x = clusters(12, 4)
  local a = prior.tsne(x, { perplexity = 5, iterations = 250, init = 'random', seed = 3, threads = 1 })
  local b = prior.tsne(x:float(), { perplexity = 5, iterations = 250, init = 'random', seed = 3, threads = 1 })
  T.all_near(a, b, 1e-4)
  local y3, st = prior.tsne(x, { perplexity = 5, iterations = 100, dims = 3, kl_every = 50 })
  T.eq(table.concat(y3:size(), 'x'), '24x3')
  T.eq(#st.kl_trace, 2)
end)

T.test('argument errors', function()
  local x = prior.randn(10, 3)
  T.raises(function() prior.tsne({ 1, 2 }) end, 'tsne: argument 1 must be a [N, D] tensor, got table')
  T.raises(function() prior.tsne(prior.randn(10)) end, 'got 1 dims')
  T.raises(function() prior.tsne(x, { perplexity = '5' }) end, 'tsne: option perplexity must be a number')
  T.raises(function() prior.tsne(x, { method = 'fast' }) end, "option method must be one of 'auto'")
  T.raises(function() prior.tsne(x, { dims = 4 }) end, 'tsne: option dims must be 2 or 3')
  T.raises(function() prior.tsne(x, { iters = 5 }) end, "tsne: unknown option 'iters'")
  -- The C check: perplexity must be below n - 1.
  T.raises(function() prior.tsne(x, { perplexity = 30 }) end, 'perplexity')
end)

T.test('plot.to_array takes 1-D and 2-D tensors', function()
  local plot = require 'prior.plot'
  T.all_near(plot.to_array(prior.tensor{ 1, 2, 3 }), { 1, 2, 3 })
  T.all_near(plot.to_array(prior.tensor{ { 1, 2 }, { 3, 4 } }), { { 1, 2 }, { 3, 4 } })
  T.raises(function() plot.to_array(prior.zeros(2, 2, 2), 'x') end, 'plot: x must be a 1-D or 2-D tensor, got 3 dims')
  T.raises(function() plot.to_array(5, 'x') end, 'plot: x must be an array')
end)

T.run()
