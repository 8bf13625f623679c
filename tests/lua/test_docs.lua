-- docs/lua-api.md documents every public function, and `?name` shows the text of the file.
local T = require 'prior.testing'
local doc = require 'prior.doc'
local Tn = require 'prior.tensor'

local entries = doc.names()

T.test('every prior.* function has an entry', function()
  local missing = {}
  for k, v in pairs(prior) do
    if type(v) == 'function' and not entries['prior.' .. k] then missing[#missing + 1] = 'prior.' .. k end
  end
  table.sort(missing)
  T.eq(table.concat(missing, ', '), '')
end)

T.test('every tensor method has an entry (as t:name or prior.name)', function()
  local missing = {}
  for k in pairs(Tn.methods) do
    if not entries['t:' .. k] and not entries['prior.' .. k] then missing[#missing + 1] = k end
  end
  for k in pairs(Tn.getters) do
    if not entries['t.' .. k] then missing[#missing + 1] = 't.' .. k end
  end
  table.sort(missing)
  T.eq(table.concat(missing, ', '), '')
end)

T.test('nn, optim and testing are documented', function()
  local missing = {}
  local function need(name) if not entries[name] then missing[#missing + 1] = name end end
  for k in pairs(prior.dist) do need('prior.dist.' .. k) end
  for k, v in pairs(prior.nn) do
    if k ~= 'Module' and k ~= 'init' then need('prior.nn.' .. k) end
  end
  for k in pairs(prior.nn.init) do need('prior.nn.init.' .. k) end
  for _, m in ipairs({ 'forward', 'parameters', 'named_parameters', 'named_buffers', 'register_parameter',
                       'register_buffer', 'add_module', 'children', 'num_parameters', 'train', 'eval', 'zero_grad',
                       'state_dict', 'load_state_dict', 'extra_repr', 'tree' }) do
    T.truthy(prior.nn.Module[m], 'Module:' .. m .. ' exists')
    need('Module:' .. m)
  end
  need('prior.nn.Module:extend')
  for _, m in ipairs({ 'add', 'get', 'size' }) do need('Sequential:' .. m) end
  for _, k in ipairs({ 'SGD', 'Adam', 'AdamW', 'clip_grad_norm_' }) do need('prior.optim.' .. k) end
  for k in pairs(prior.optim.schedule) do need('prior.optim.schedule.' .. k) end
  for _, m in ipairs({ 'step', 'zero_grad', 'set_lr', 'state_dict', 'load_state_dict' }) do need('Optimizer:' .. m) end
  for k, v in pairs(require 'prior.testing') do
    if type(v) == 'function' then need('prior.testing.' .. k) end
  end
  table.sort(missing)
  T.eq(table.concat(missing, ', '), '')
end)

T.test('prior.data, its objects and prior.tsne are documented', function()
  local missing = {}
  local function need(name) if not entries[name] then missing[#missing + 1] = name end end
  for k, v in pairs(prior.data) do
    if type(v) == 'function' then need('prior.data.' .. k) end
  end
  local classes = {
    Tokenizer = require('prior.data.tokenizer').Tokenizer,
    Dataset = require('prior.data.dataset').Dataset,
    Loader = require('prior.data.loader').Loader,
  }
  for cname, methods in pairs(classes) do
    for k, v in pairs(methods) do
      if type(v) == 'function' and not k:match('^__') then need(cname .. ':' .. k) end
    end
  end
  need('prior.tsne')
  table.sort(missing)
  T.eq(table.concat(missing, ', '), '')
end)

T.test('every entry has a description and an example', function()
  local f = assert(io.open(PRIOR_BUILD.doc_files[1]))
  local text = f:read('*a'); f:close()
  local bad = {}
  for title, body in text:gmatch('\n### ([^\n]+)\n(.-)\n#') do
    if not body:find('```lua', 1, true) or body:match('^%s*```') then bad[#bad + 1] = title end
  end
  T.eq(table.concat(bad, '; '), '')
end)

T.test('?name shows the text of the file', function()
  local s = doc.lookup('prior.tensor')
  T.truthy(s:find('prior.tensor(data, [opts])', 1, true), s)
  T.truthy(s:find('A tensor from nested tables of numbers', 1, true), s)
  T.truthy(s:find("prior.tensor({{1, 2}, {3, 4}}, {dtype = 'f64'})", 1, true), s)
  T.truthy(doc.lookup('t:size'):find('The shape as a table', 1, true))
  T.truthy(doc.lookup('nn.Linear'):find('y = x W^T + b', 1, true))
  T.truthy(doc.lookup('no_such_thing'):find('no documentation for no_such_thing', 1, true))
  T.truthy(doc.lookup(''):find('Sections', 1, true))
end)

T.run()
