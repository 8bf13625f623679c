-- Command lines of the scripts (pretrain, zeroshot, retrieval, make_synthetic, viz/*): `--key value` pairs checked
-- against defaults (numbers stay numbers), value-less flags, --help; and the configuration a --config names.
local M = {}

-- parse(name, defaults, flags, usage, [argv]) -> opts. Unknown keys, missing values and non-numbers where a number
-- is expected are errors naming the script; --help prints usage and exits. A default of false takes any value.
function M.parse(name, defaults, flags, usage, argv)
  local opts = {}
  for k, v in pairs(defaults or {}) do opts[k] = v end
  local is_flag = {}
  for _, f in ipairs(flags or {}) do is_flag[f] = true; if opts[f] == nil then opts[f] = false end end
  argv = argv or arg or {}
  local i = 1
  while argv[i] do
    local a = argv[i]
    local key = a:match('^%-%-([%w%-]+)$')
    if (a == '--help' or a == '-h') and usage then
      io.stdout:write(usage, '\n')
      os.exit(0)
    elseif key and is_flag[key] then
      opts[key] = true
      i = i + 1
    elseif key and opts[key] ~= nil then
      local v = argv[i + 1]
      if v == nil then error(name .. ': --' .. key .. ' needs a value', 0) end
      if type(defaults[key]) == 'number' then
        opts[key] = tonumber(v) or error(name .. ': --' .. key .. ' needs a number, got ' .. v, 0)
      else
        opts[key] = tonumber(v) or v
      end
      i = i + 2
    else
      error(name .. ': unknown argument ' .. a .. (usage and ' (see --help)' or ''), 0)
    end
  end
  return opts
end

-- The leading comment block of a script file, without the comment markers: a script's --help text, so that the
-- usage is written once, at the top of the script.
function M.header(path)
  local lines = {}
  local f = path and io.open(path)
  if not f then return nil end
  for line in f:lines() do
    local text = line:match('^%-%- ?(.*)$')
    if not text then break end
    lines[#lines + 1] = text
  end
  f:close()
  return #lines > 0 and table.concat(lines, '\n') or nil
end

-- The configuration table of a preset name ('tiny', 'paper') or of a FILE.lua.
function M.config(name_or_file)
  if type(name_or_file) == 'string' and name_or_file:match('%.lua$') then return dofile(name_or_file) end
  return require('prior.models.prior').preset(name_or_file)
end

return M
