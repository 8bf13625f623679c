-- A small test runner for Lua tests run by ctest:
--
--   local T = require 'prior.testing'
--   T.test('adds', function() T.eq(1 + 1, 2) end)
--   T.test('conv', function() T.require_op('conv2d'); ... end)   -- skipped while the op is absent
--   T.run()
--
-- T.run prints one line per test, then the summary line `N passed, N failed` alone, and exits 1 when a test
-- failed, 77 (ctest's skip code here) when every test was skipped, 0 otherwise.
local M = {}
local tests = {}
local SKIP = setmetatable({}, { __tostring = function() return 'skip' end })

local cleanups = {}

function M.test(name, fn) tests[#tests + 1] = { name = name, fn = fn } end

-- Registers fn to run after the tests, before the process exits (kill helper processes, remove files).
function M.finally(fn) cleanups[#cleanups + 1] = fn end

-- Ends the current test as skipped, with a reason.
function M.skip(reason) error({ [SKIP] = true, reason = reason }, 0) end

-- Skips the test unless the runtime library implements every op named.
function M.require_op(...)
  local prior = require 'prior'
  for _, op in ipairs({ ... }) do
    if not prior.has_op(op) then M.skip('prior_' .. op .. ' is not in this build of the runtime') end
  end
end

local function fail(msg, level) error(msg, (level or 1) + 2) end

function M.truthy(v, msg) if not v then fail(msg or 'expected a true value, got ' .. tostring(v)) end end

function M.eq(got, want, msg)
  if got ~= want then fail(string.format('%sexpected %s, got %s', msg and msg .. ': ' or '', tostring(want), tostring(got))) end
end

function M.near(got, want, tol, msg)
  tol = tol or 1e-6
  if type(got) ~= 'number' or math.abs(got - want) > tol then
    fail(string.format('%sexpected %s (within %g), got %s', msg and msg .. ': ' or '', tostring(want), tol, tostring(got)))
  end
end

-- Compares a tensor (or nested table) with a nested table of numbers, elementwise within tol.
function M.all_near(got, want, tol, msg)
  tol = tol or 1e-6
  local prior = require 'prior'
  if prior.is_tensor(got) then got = got:totable() end
  if prior.is_tensor(want) then want = want:totable() end
  local function walk(g, w, path)
    if type(w) == 'table' then
      if type(g) ~= 'table' or #g ~= #w then
        fail(string.format('%sshape differs at %s: expected %d entries, got %s', msg and msg .. ': ' or '', path, #w,
                           type(g) == 'table' and #g or type(g)), 3)
      end
      for i = 1, #w do walk(g[i], w[i], path .. '[' .. i .. ']') end
    elseif type(g) ~= 'number' or math.abs(g - w) > tol then
      fail(string.format('%s%s: expected %s (within %g), got %s', msg and msg .. ': ' or '', path, tostring(w), tol,
                         tostring(g)), 3)
    end
  end
  walk(got, want, 'value')
end

-- fn must raise an error whose message contains `pattern` (a plain substring).
function M.raises(fn, pattern, msg)
  local ok, err = pcall(fn)
  if ok then fail((msg or 'expected an error') .. (pattern and (" containing '" .. pattern .. "'") or '')) end
  if pattern and not tostring(err):find(pattern, 1, true) then
    fail(string.format("expected an error containing '%s', got: %s", pattern, tostring(err)))
  end
  return err
end

function M.run()
  local passed, failed, skipped = 0, 0, 0
  for _, t in ipairs(tests) do
    local ok, err = xpcall(t.fn, function(e)
      if type(e) == 'table' and e[SKIP] then return e end
      return debug.traceback(tostring(e), 2)
    end)
    if ok then
      passed = passed + 1
      print('ok    ' .. t.name)
    elseif type(err) == 'table' and err[SKIP] then
      skipped = skipped + 1
      print('skip  ' .. t.name .. ': ' .. tostring(err.reason))
    else
      failed = failed + 1
      print('FAIL  ' .. t.name .. ': ' .. tostring(err))
    end
  end
  for _, fn in ipairs(cleanups) do pcall(fn) end
  if skipped > 0 then print(skipped .. ' skipped') end
  print(string.format('%d passed, %d failed', passed, failed))
  io.stdout:flush()
  -- Closing the Lua state runs the finalisers, so every tensor goes back to the C runtime before exit.
  if failed > 0 then os.exit(1, true) end
  if passed == 0 and skipped > 0 then os.exit(77, true) end
  os.exit(0, true)
end

return M
