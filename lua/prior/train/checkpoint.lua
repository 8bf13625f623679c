-- Training checkpoints: one safetensors file holding the model's parameters and buffers under their own names
-- (so it loads as a model checkpoint), the optimizer's state under "optimizer.<i>.<key>", and the run's state
-- (stage, epoch, position, step, RNG, schedule) as string metadata. Written atomically by the C writer.
local ffi = require 'ffi'
local capi = require 'prior.capi'
local T = require 'prior.tensor'
local C = capi.C

local M = {}

local function write(path, named, meta)
  local list = C.prior_params_new()
  if list == nil then capi.fail(2) end
  list = ffi.gc(list, C.prior_params_free)
  for _, nt in ipairs(named) do
    capi.status(C.prior_params_add(list, '', nt[1], nt[2].h, 0), 3)
  end
  local keys, values = {}, {}
  for k, v in pairs(meta) do keys[#keys + 1] = tostring(k); values[#values + 1] = tostring(v) end
  local ck = ffi.new('const char*[?]', #keys + 1, keys)
  local cv = ffi.new('const char*[?]', #values + 1, values)
  capi.status(C.prior_params_save(list, path, #keys, ck, cv), 3)
end

-- save(path, model, optimizer, state): state is a flat table of numbers/strings.
function M.save(path, model, optimizer, state)
  local named = model:named_parameters()
  local sd = optimizer and optimizer:state_dict() or { state = {} }
  local scalars = {}
  for i, s in pairs(sd.state) do
    for k, v in pairs(s) do
      if T.is_tensor(v) then
        named[#named + 1] = { string.format('optimizer.%d.%s', i, k), v }
      else
        scalars[#scalars + 1] = string.format('%d.%s=%s', i, k, tostring(v))
      end
    end
  end
  local meta = {}
  for k, v in pairs(state or {}) do meta['state.' .. k] = v end
  meta['optimizer.scalars'] = table.concat(scalars, ';')
  write(path, named, meta)
end

-- load(path, model, optimizer): restores the model (strict), the optimizer's state and returns the run state.
function M.load(path, model, optimizer)
  local st = ffi.new('prior_safetensors*[1]')
  capi.status(C.prior_safetensors_open(path, st), 2)
  local handle = ffi.gc(st[0], C.prior_safetensors_close)
  local meta = {}
  for i = 0, tonumber(C.prior_safetensors_metadata_count(handle)) - 1 do
    meta[ffi.string(C.prior_safetensors_metadata_key(handle, i))] = ffi.string(C.prior_safetensors_metadata_value(handle, i))
  end
  model:load(path, { drop_prefixes = 'optimizer.' })
  if optimizer then
    local state = {}
    for item in (meta['optimizer.scalars'] or ''):gmatch('[^;]+') do
      local i, k, v = item:match('^(%d+)%.([%w_]+)=(.*)$')
      if i then
        i = tonumber(i)
        state[i] = state[i] or {}
        state[i][k] = tonumber(v) or v
      end
    end
    for i = 0, tonumber(C.prior_safetensors_count(handle)) - 1 do
      local rec = C.prior_safetensors_tensor(handle, i)
      local name = ffi.string(rec.name)
      local idx, key = name:match('^optimizer%.(%d+)%.([%w_]+)$')
      if idx then
        local shape = ffi.new('int64_t[?]', math.max(rec.ndim, 1))
        for d = 0, rec.ndim - 1 do shape[d] = rec.shape[d] end
        local t = T.wrap(C.prior_tensor_from_data(rec.data, rec.ndim, shape, rec.dtype, C.prior_cpu()))
        idx = tonumber(idx)
        state[idx] = state[idx] or {}
        state[idx][key] = t
      end
    end
    local sd = optimizer:state_dict()
    sd.state = state
    optimizer:load_state_dict(sd)
  end
  local run = {}
  for k, v in pairs(meta) do
    local key = k:match('^state%.(.+)$')
    if key then run[key] = tonumber(v) or v end
  end
  return run
end

return M
