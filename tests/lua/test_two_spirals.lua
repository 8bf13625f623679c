-- scripts/two_spirals.lua reaches >= 98% training accuracy with the public API; prints its wall time.
local T = require 'prior.testing'

T.test('two spirals MLP trains to >= 98% accuracy', function()
  T.require_op('linear', 'cross_entropy')
  TWO_SPIRALS_OPTS = { steps = 600, quiet = true }
  local t0 = os.time()
  local clock0 = os.clock()
  local acc = dofile('scripts/two_spirals.lua')
  print(string.format('two_spirals: accuracy %.4f, %.2f s CPU, ~%d s wall', acc, os.clock() - clock0, os.time() - t0))
  T.truthy(acc >= 0.98, 'accuracy ' .. acc)
end)

T.run()
