-- Drives the real `prior` REPL through a terminal (tmux): auto-print, `;`, multi-line input, TAB completion,
-- errors, Ctrl-C in a Lua loop, in a loop of C ops and at the prompt, `?`, `$`, timing, Ctrl-D, and history
-- kept across runs. Skipped (77) when tmux is not installed.
local T = require 'prior.testing'
local exe = arg[-1]

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
local function ok_exec(cmd)
  local r = os.execute(cmd)
  return r == 0 or r == true
end

local have_tmux = ok_exec('tmux -V >/dev/null 2>&1')
local socket = string.format('prior_test_%d_%d', os.time(), math.random(1, 1e9))
local dir = os.tmpname()
os.remove(dir)
ok_exec('mkdir -p ' .. q(dir))
local history = dir .. '/history'

local function tmux(args) return 'tmux -L ' .. socket .. ' ' .. args end
local function capture(session)
  local p = io.popen(tmux('capture-pane -p -J -S - -t ' .. session .. ' 2>/dev/null'))
  local s = p:read('*a'); p:close()
  return s
end
local function count(hay, needle)
  local n, i = 0, 1
  while true do
    local a, b = hay:find(needle, i, true)
    if not a then return n end
    n, i = n + 1, b + 1
  end
end
-- Waits until the pane shows `needle` at least n times (default 1); fails with the pane after timeout s.
local function wait_for(session, needle, n, timeout)
  n, timeout = n or 1, timeout or 15
  local t0 = os.time()
  local pane
  repeat
    pane = capture(session)
    if count(pane, needle) >= n then return pane end
    ok_exec('sleep 0.1')
  until os.time() - t0 > timeout
  error(string.format("timed out waiting for %q (x%d); the terminal shows:\n%s", needle, n, pane), 2)
end
-- tmux reads a trailing ';' of an argument as its own command separator unless escaped.
local function type_text(session, text)
  ok_exec(tmux('send-keys -t ' .. session .. ' -l ' .. q((text:gsub(';$', '\\;')))))
end
local function key(session, k) ok_exec(tmux('send-keys -t ' .. session .. ' ' .. k)) end
local function line(session, text) type_text(session, text); key(session, 'Enter') end
local function alive(session) return ok_exec(tmux('has-session -t ' .. session .. ' 2>/dev/null')) end
-- A session that lives for the whole file keeps the tmux server up: otherwise the server exits when a REPL's
-- session ends, and a new-session sent while it shuts down is lost (seen on a loaded machine).
if have_tmux then ok_exec(tmux('new-session -d -s keeper -x 20 -y 5 ' .. q('sleep 100000'))) end
local function start(session, args)
  for _ = 1, 5 do
    ok_exec(tmux('new-session -d -s ' .. session .. ' -x 160 -y 50 ' ..
                 q('env PRIOR_HISTORY=' .. q(history) .. ' ' .. q(exe) .. (args or ''))))
    if alive(session) then break end
    ok_exec('sleep 0.2')
  end
  return wait_for(session, 'prior> ')
end

T.test('a REPL session', function()
  if not have_tmux then T.skip('tmux is not installed') end
  local S = 'repl'
  start(S)

  line(S, '1234 + 1')
  wait_for(S, '\n1235\n')

  line(S, 'hidden = 4320 + 1;')
  line(S, 'hidden + 0;')
  line(S, '"mark" .. "one"')
  local pane = wait_for(S, '"markone"')
  T.eq(count(pane, "4321"), 0, "a trailing ; suppresses the value; the terminal shows:\n" .. pane)

  line(S, 'for i = 1, 3 do')
  wait_for(S, '..> ')
  line(S, "io.write('L', i, ' ')")
  line(S, 'end')
  wait_for(S, 'L1 L2 L3')

  type_text(S, 'prior.nn.Li'); key(S, 'Tab'); type_text(S, ' ~= nil'); key(S, 'Enter')
  pane = wait_for(S, 'prior.nn.Linear ~= nil')
  wait_for(S, 'prior.nn.Linear ~= nil\ntrue')

  line(S, 'tt = prior.zeros(2, 5);')
  type_text(S, 'tt:si'); key(S, 'Tab'); key(S, 'Tab')
  wait_for(S, 'sigmoid') -- two TABs list the methods of a tensor starting with 'si'
  type_text(S, 'z'); key(S, 'Tab'); type_text(S, '(2)'); key(S, 'Enter')
  wait_for(S, 'tt:size(2)\n5')

  line(S, "error('kaboom')")
  wait_for(S, 'kaboom')
  wait_for(S, 'stack traceback')
  line(S, '"after" .. "error"')
  wait_for(S, '"aftererror"')

  line(S, 'while true do end')
  ok_exec('sleep 0.5')
  key(S, 'C-c')
  wait_for(S, 'interrupted')
  line(S, '"alive" .. 1')
  wait_for(S, '"alive1"')

  line(S, 'big = prior.randn(1000, 1000); for i = 1, 1e9 do big = prior.add(big, 1) end')
  ok_exec('sleep 1')
  key(S, 'C-c')
  wait_for(S, 'interrupted', 2)
  line(S, 'big:numel() + tt:numel()')
  wait_for(S, '1000010')

  type_text(S, 'half typed garbage')
  key(S, 'C-c')
  line(S, '"alive" .. 2')
  pane = wait_for(S, '"alive2"')
  T.truthy(alive(S), 'Ctrl-C at the prompt does not exit')

  line(S, '?prior.tensor')
  wait_for(S, 'A tensor from nested tables')
  line(S, '$ echo shell_$((6*7))')
  wait_for(S, 'shell_42')

  line(S, 'local t0 = os.clock() while os.clock() - t0 < 1.1 do end')
  wait_for(S, ' s)')

  line(S, '"hist" .. "mark"')
  wait_for(S, '"histmark"')
  key(S, 'C-d')
  local t0 = os.time()
  while alive(S) and os.time() - t0 < 10 do ok_exec('sleep 0.1') end
  T.truthy(not alive(S), 'Ctrl-D exits')

  -- History: saved to PRIOR_HISTORY and recalled with Up in a new run.
  local f = io.open(history)
  T.truthy(f, 'the history file exists')
  local text = f:read('*a'); f:close()
  T.truthy(text:find('hidden = 4320 + 1;', 1, true), text)
  local S2 = 'repl2'
  start(S2)
  key(S2, 'Up'); key(S2, 'Enter')
  wait_for(S2, '"histmark"')
  key(S2, 'C-d')
end)

T.test('prior -i runs a script, then stays in the REPL', function()
  if not have_tmux then T.skip('tmux is not installed') end
  local script = dir .. '/setup.lua'
  local f = io.open(script, 'w'); f:write("from_script = 'yes' .. arg[1]\n"); f:close()
  local S = 'repl3'
  start(S, ' -i ' .. q(script) .. ' 42')
  line(S, 'from_script')
  wait_for(S, '"yes42"')
  key(S, 'C-d')
end)

T.finally(function()
  ok_exec(tmux('kill-server 2>/dev/null'))
  ok_exec('rm -rf ' .. q(dir))
end)
T.run()
