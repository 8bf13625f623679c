-- 2-D convolution (PyTorch's nn.Conv2d): weight [out, in/groups, kh, kw], bias [out].
local prior = require 'prior'
local init = require 'prior.nn.initializers'
local Conv2d = require('prior.nn.Module'):extend('Conv2d')

local function pair(v, name)
  if type(v) == 'number' then return { v, v } end
  if type(v) == 'table' and #v == 2 then return v end
  error(string.format('Conv2d: %s must be a number or a pair {h, w}, got %s', name, tostring(v)), 4)
end

-- Conv2d(in_channels, out_channels, kernel_size, [{stride=1, padding=0, dilation=1, groups=1, bias=true}])
function Conv2d:__init(cin, cout, kernel, opts)
  opts = opts or {}
  if type(cin) ~= 'number' or type(cout) ~= 'number' then
    error('Conv2d: arguments 1 and 2 (in_channels, out_channels) must be numbers', 3)
  end
  local groups = opts.groups or 1
  if cin % groups ~= 0 or cout % groups ~= 0 then
    error(string.format('Conv2d: groups=%d must divide in_channels=%d and out_channels=%d', groups, cin, cout), 3)
  end
  self.in_channels, self.out_channels, self.groups = cin, cout, groups
  self.kernel_size = pair(kernel, 'kernel_size')
  self.stride = pair(opts.stride or 1, 'stride')
  self.padding = pair(opts.padding or 0, 'padding')
  self.dilation = pair(opts.dilation or 1, 'dilation')
  local fan_in = cin / groups * self.kernel_size[1] * self.kernel_size[2]
  local dt = opts.dtype or 'f32'
  local w = prior.empty({ cout, cin / groups, self.kernel_size[1], self.kernel_size[2] }, { dtype = dt })
  self.weight = init.kaiming_uniform_(w, math.sqrt(5), fan_in):requires_grad(true)
  if opts.bias ~= false then
    self.bias = init.bias_uniform_(prior.empty({ cout }, { dtype = dt }), fan_in):requires_grad(true)
  end
end

function Conv2d:forward(x)
  return prior.conv2d(x, self.weight, self.bias, { stride = self.stride, padding = self.padding,
                                                   dilation = self.dilation, groups = self.groups })
end

function Conv2d:extra_repr()
  local s = string.format('%d, %d, kernel_size=(%d, %d), stride=(%d, %d)', self.in_channels, self.out_channels,
                          self.kernel_size[1], self.kernel_size[2], self.stride[1], self.stride[2])
  if self.padding[1] ~= 0 or self.padding[2] ~= 0 then
    s = s .. string.format(', padding=(%d, %d)', self.padding[1], self.padding[2])
  end
  if self.groups ~= 1 then s = s .. ', groups=' .. self.groups end
  if self.bias == nil then s = s .. ', bias=false' end
  return s
end

return Conv2d
