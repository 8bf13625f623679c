-- The generated ffi.cdef text: built from the public headers, free of preprocessor and compiler leftovers,
-- declaring every function of every header that prior/prior.h includes; errors cross from C with their message.
local T = require 'prior.testing'
local ffi = require 'ffi'

local cdef = require 'prior.prior_cdef'

T.test('no directives or attributes are left', function()
  T.eq(cdef:find('\n#', 1, true), nil)
  T.eq(cdef:find('__attribute__', 1, true), nil)
  T.truthy(#cdef > 1000)
end)

T.test('every function of the umbrella header is declared', function()
  local f = assert(io.open('runtime/include/prior/prior.h'))
  local umbrella = f:read('*a'); f:close()
  local missing, n = {}, 0
  for header in umbrella:gmatch('#include "(prior/[%w_]+%.h)"') do
    local h = assert(io.open('runtime/include/' .. header))
    local text = h:read('*a'):gsub('/%*.-%*/', ''); h:close()
    text = text:gsub('#define[^\n]*', '')
    for name, after in text:gmatch('[%s%*](prior_[%w_]+)%s*%((.)') do
      if after ~= '*' then -- not a function-pointer type such as prior_status (*copy)(...)
        n = n + 1
        if not cdef:find(name .. '(', 1, true) then missing[#missing + 1] = header .. ': ' .. name end
      end
    end
  end
  T.truthy(n > 100, 'found ' .. n .. ' prototypes')
  T.eq(table.concat(missing, ', '), '')
end)

T.test('has_op tells implemented symbols from absent ones', function()
  T.truthy(prior.has_op('add'))
  T.truthy(prior.has_op('prior_sgd_step'))
  T.truthy(not prior.has_op('no_such_op'))
  T.raises(function() require('prior.capi').C.prior_no_such_op() end, 'prior_no_such_op is not available')
end)

T.test('C errors become Lua errors with the C message', function()
  T.raises(function() return prior.ones(2, 3) + prior.ones(4) end, '[2, 3]')
  T.raises(function() return prior.ones(2):view(3) end, '')
  T.raises(function() prior.optim.SGD({prior.ones(2, {dtype = 'i64'}):requires_grad(true)}, {lr = 1}) end, '')
end)

T.run()
