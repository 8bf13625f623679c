-- A long-lived gnuplot process whose errors come back as Lua errors.
--
-- Commands go down a pipe to gnuplot's stdin; gnuplot's stderr goes to a file in a private temporary
-- folder. After each batch we send `print "<token>"` (gnuplot prints to stderr) and read the file until
-- the token shows up: everything before it is what the batch said. A shell wrapper appends an exit
-- marker to the same file when gnuplot ends, so a crashed gnuplot is noticed instead of waited for, and
-- a timeout (seconds, default 60) kills a gnuplot that stops answering. gnuplot's stdout is ours, so
-- the `dumb` terminal draws straight into the terminal.
local ok_ffi, ffi = pcall(require, 'ffi')

local M = {}
M.program = 'gnuplot'
M.timeout = 60

if ok_ffi then
  ffi.cdef [[
    typedef void (*prior_gnuplot_sighandler)(int);
    prior_gnuplot_sighandler signal(int signum, prior_gnuplot_sighandler handler);
    int poll(void *fds, unsigned long nfds, int timeout);
  ]]
end

local function sleep_ms(ms)
  if ok_ffi then ffi.C.poll(nil, 0, ms) else os.execute('sleep ' .. ms / 1000) end
end

-- Writing to a pipe whose reader died raises SIGPIPE, which would end the whole process; with it
-- ignored the write fails with EPIPE instead and becomes a Lua error here.
local sigpipe_ignored = false
local function ignore_sigpipe()
  if sigpipe_ignored or not ok_ffi or ffi.os ~= 'Linux' then return end
  ffi.C.signal(13, ffi.cast('prior_gnuplot_sighandler', 1)) -- SIGPIPE, SIG_IGN
  sigpipe_ignored = true
end

-- Single-quoted gnuplot string: no escapes are interpreted, a quote is doubled.
function M.quote(s)
  return "'" .. tostring(s):gsub("'", "''") .. "'"
end

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function read_file(path)
  local f = io.open(path, 'rb')
  if not f then return nil end
  local s = f:read('*a')
  f:close()
  return s
end

local Process = {}
Process.__index = Process

-- Starts gnuplot. Returns a process object; raises if gnuplot cannot be started.
function M.start()
  ignore_sigpipe()
  local dir = os.tmpname()
  os.remove(dir)
  local rc = os.execute('mkdir -m 700 ' .. shell_quote(dir))
  if rc ~= 0 and rc ~= true then
    error('gnuplot: cannot create temporary folder ' .. dir, 2)
  end
  local self = setmetatable({dir = dir, err = dir .. '/stderr', pidfile = dir .. '/pid', offset = 0,
                             token = 0, files = {}, nfiles = 0}, Process)
  local cmd = string.format("sh -c 'echo $$ >\"$0\"; exec %s' %s 2>%s; echo \"__prior_gnuplot_exit__ $?\" >>%s",
                            M.program, shell_quote(self.pidfile), shell_quote(self.err), shell_quote(self.err))
  self.pipe = io.popen(cmd, 'w')
  if not self.pipe then error('gnuplot: cannot start ' .. M.program, 2) end
  self.pipe:setvbuf('full')
  -- The first round trip proves gnuplot runs (and that it is gnuplot).
  local ok, msg = pcall(self.send, self, 'set print')
  if not ok then
    self:close()
    error(msg, 0)
  end
  return self
end

-- A fresh file name inside the process's temporary folder (for binary data).
function Process:tempfile(ext)
  self.nfiles = self.nfiles + 1
  local path = string.format('%s/data%d%s', self.dir, self.nfiles, ext or '.bin')
  self.files[#self.files + 1] = path
  return path
end

-- Removes the data files of earlier plots.
function Process:clear_files()
  for _, f in ipairs(self.files) do os.remove(f) end
  self.files = {}
end

function Process:alive()
  return self.pipe ~= nil and not self.dead
end

local function gnuplot_error(text)
  text = text:gsub('^%s+', ''):gsub('%s+$', '')
  return 'gnuplot: ' .. text
end

-- Splits what gnuplot said into errors and other messages. gnuplot reports errors as
-- "line N: message" under an echo of the command and a caret; warnings say "warning:".
local function classify(text)
  local is_error = false
  for line in text:gmatch('[^\n]+') do
    if line:match('line %d+:') and not line:lower():match('warning') then is_error = true end
  end
  return is_error
end

-- Sends commands (a string or a list of strings) and waits until gnuplot has run them. Raises a Lua
-- error carrying gnuplot's text if gnuplot reported an error, died, or did not answer in time.
-- Returns any other text gnuplot wrote (warnings, `print` output).
function Process:send(commands)
  if not self:alive() then error('gnuplot: the process is not running', 0) end
  if type(commands) == 'table' then commands = table.concat(commands, '\n') end
  self.token = self.token + 1
  local token = string.format('__prior_gnuplot_done_%d__', self.token)
  local ok, werr = self.pipe:write(commands, '\n', 'print "', token, '"\n')
  if ok then ok, werr = self.pipe:flush() end
  local deadline = os.time() + M.timeout
  local wait, said = 1, nil
  while true do
    local text = read_file(self.err) or ''
    local new = text:sub(self.offset + 1)
    local at = new:find(token, 1, true)
    if at then
      said = new:sub(1, at - 1)
      local eol = new:find('\n', at, true) or #new
      self.offset = self.offset + eol
      break
    end
    local exit = new:match('__prior_gnuplot_exit__ (%d+)')
    if exit or not ok then
      self.dead = true
      local msg = new:gsub('__prior_gnuplot_exit__ %d+%s*', '')
      if msg:find('not found', 1, true) and msg:find(M.program, 1, true) then
        error('gnuplot: cannot run ' .. M.program .. ' (is gnuplot installed?)', 0)
      end
      error(gnuplot_error(msg .. string.format('\n(gnuplot exited%s%s)', exit and ' with status ' .. exit or '',
                                               werr and ': ' .. tostring(werr) or '')), 0)
    end
    if os.time() > deadline then
      self:kill()
      error(string.format('gnuplot: no answer within %d s; the process was killed. It said: %s', M.timeout, new), 0)
    end
    sleep_ms(wait)
    wait = math.min(wait * 2, 20)
  end
  if classify(said) then error(gnuplot_error(said), 0) end
  return said
end

function Process:kill()
  local pid = (read_file(self.pidfile) or ''):match('%d+')
  if pid then os.execute('kill ' .. pid .. ' 2>/dev/null') end
  self.dead = true
end

-- Ends gnuplot (it finishes and closes its outputs on end of input) and removes the temporary files.
function Process:close()
  if self.pipe then
    if not self.dead then pcall(self.pipe.write, self.pipe, 'exit\n') end
    pcall(self.pipe.close, self.pipe)
    self.pipe = nil
  end
  self.dead = true
  self:clear_files()
  os.remove(self.err)
  os.remove(self.pidfile)
  os.remove(self.dir)
end

-- Writes rows of numbers as native float64 records; columns is a list of equally long arrays. Returns
-- the gnuplot binary format string ('%float64%float64...').
function M.write_columns(path, columns, n)
  local m = #columns
  local f = assert(io.open(path, 'wb'))
  if ok_ffi and n > 0 then
    local buf = ffi.new('double[?]', n * m)
    for j = 1, m do
      local col = columns[j]
      for i = 1, n do buf[(i - 1) * m + j - 1] = col[i] end
    end
    f:write(ffi.string(buf, n * m * 8))
  elseif n > 0 then
    error('gnuplot: binary data needs LuaJIT')
  end
  f:close()
  return string.rep('%float64', m)
end

-- Writes a flat array of n numbers as float64.
function M.write_flat(path, values, n)
  local f = assert(io.open(path, 'wb'))
  local buf = ffi.new('double[?]', n)
  for i = 1, n do buf[i - 1] = values[i] end
  f:write(ffi.string(buf, n * 8))
  f:close()
end

return M
