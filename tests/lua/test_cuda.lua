-- prior.cuda from Lua: the same answers as the C API, and on a machine without a GPU a clean error when a
-- tensor is moved there. With a GPU, a round trip and an op on the device.
local T = require 'prior.testing'

T.test('availability and build info agree', function()
  local n = prior.cuda.device_count()
  T.eq(prior.cuda.available(), n > 0)
  local info = prior.build_info()
  T.truthy(info == 'cpu' or info:match('^cuda %d+%.%d+ %(sm_'), 'build info ' .. info)
  if info == 'cpu' then T.eq(n, 0) end
end)

T.test('autocast switch', function()
  T.eq(prior.cuda.autocast(), false)
  T.eq(prior.cuda.autocast(true), false)
  T.eq(prior.cuda.autocast(false), true)
  T.eq(prior.cuda.autocast(), false)
end)

T.test('without a GPU, cuda tensors are an error', function()
  if prior.cuda.available() then T.skip('this machine has a GPU') end
  T.raises(function() return prior.ones(2, 3):cuda() end, 'cuda:0')
  T.raises(function() return prior.zeros(2, {device = 'cuda'}) end, 'cuda:0')
  T.raises(function() prior.cuda.synchronize() end, 'CUDA')
  T.eq(prior.memory('cuda').bytes_in_use, 0)
end)

T.test('with a GPU, round trips and ops', function()
  if not prior.cuda.available() then T.skip('no GPU') end
  local x = prior.randn(4, 5)
  local g = x:cuda()
  T.eq(g:device(), 'cuda:0')
  T.all_near((g * 2 + 1):cpu(), x * 2 + 1, 1e-6)
  prior.cuda.synchronize()
end)

T.run()
