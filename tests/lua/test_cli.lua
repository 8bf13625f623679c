-- The prior executable's command line: --version, --help, scripts with arguments, -e, -, errors, piped input.
local T = require 'prior.testing'
local exe = arg[-1]

local function sh_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- Runs a shell command line; returns stdout, stderr and the exit status.
local function run(cmdline)
  local out, err = os.tmpname(), os.tmpname()
  local ok, how, code = os.execute(cmdline .. ' >' .. out .. ' 2>' .. err)
  -- LuaJIT without 5.2 compatibility returns the raw wait status
  local status = type(ok) == 'number' and math.floor(ok / 256) or (code or 0)
  local function slurp(p) local f = io.open(p); local s = f:read('*a'); f:close(); os.remove(p); return s end
  return slurp(out), slurp(err), status
end

local function script(text)
  local p = os.tmpname() .. '.lua'
  local f = io.open(p, 'w'); f:write(text); f:close()
  return p
end

T.test('--version says whether the build has CUDA', function()
  local out, _, status = run(sh_quote(exe) .. ' --version')
  T.eq(status, 0)
  T.truthy(out:find('^prior %d+%.%d+%.%d+'), out)
  if PRIOR_BUILD.cuda then T.truthy(out:find('cuda', 1, true), out) else T.truthy(out:find('cpu only', 1, true), out) end
end)

T.test('--help and unknown options', function()
  local out, _, status = run(sh_quote(exe) .. ' --help')
  T.eq(status, 0); T.truthy(out:find('usage: prior', 1, true), out)
  local _, err, st2 = run(sh_quote(exe) .. ' --frobnicate')
  T.eq(st2, 2); T.truthy(err:find("unknown option '--frobnicate'", 1, true), err)
end)

T.test('a script gets arg and ...', function()
  local p = script("print(arg[0] ~= nil, arg[1], arg[2], select('#', ...), ...)\nprint(prior.ones(2):sum():item())")
  local out, err, status = run(sh_quote(exe) .. ' ' .. p .. ' alpha "b c"')
  T.eq(status, 0, err)
  T.eq(out, 'true\talpha\tb c\t2\talpha\tb c\n2\n')
  os.remove(p)
end)

T.test('an uncaught error exits non-zero with message and traceback', function()
  local p = script('local function inner() error("boom in script") end\ninner()\n')
  local out, err, status = run(sh_quote(exe) .. ' ' .. p)
  T.eq(status, 1)
  T.truthy(err:find('boom in script', 1, true), err)
  T.truthy(err:find('stack traceback', 1, true), err)
  T.truthy(err:find("in function 'inner'", 1, true) or err:find('inner', 1, true), err)
  os.remove(p)
  local _, err2, st2 = run(sh_quote(exe) .. ' /nonexistent/script.lua')
  T.eq(st2, 1); T.truthy(err2:find('cannot open', 1, true), err2)
  local p2 = script('x = = 1')
  local _, err3, st3 = run(sh_quote(exe) .. ' ' .. p2)
  T.eq(st3, 1); T.truthy(err3:find("unexpected symbol near '='", 1, true), err3)
  os.remove(p2)
end)

T.test('-e runs code, in order, and - reads a script from stdin', function()
  local out, _, status = run(sh_quote(exe) .. " -e 'x = 40' -e 'print(x + 2)'")
  T.eq(status, 0); T.eq(out, '42\n')
  local _, err, st2 = run(sh_quote(exe) .. " -e 'error(\"from -e\")'")
  T.eq(st2, 1); T.truthy(err:find('from -e', 1, true), err)
  local out3, _, st3 = run("echo 'print(\"piped\", ...)' | " .. sh_quote(exe) .. ' - one')
  T.eq(st3, 0); T.eq(out3, 'piped\tone\n')
end)

T.test('piped REPL input auto-prints and keeps going after errors', function()
  local out, err, status = run("printf '1+1\\nx = 3;\\nerror(\"oops\")\\nx * 2\\nprior.ones(2)\\n' | " .. sh_quote(exe))
  T.eq(status, 0)
  T.truthy(out:find('^2\n6\n'), out)
  T.truthy(out:find('[f32 tensor of shape 2 on cpu]', 1, true), out)
  T.truthy(err:find('oops', 1, true), err)
end)

T.run()
