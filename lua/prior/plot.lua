-- Figures drawn by gnuplot: lines, scatter, bars, histograms, heat maps, grayscale images with a
-- heat-map overlay, grids of panels, training curves from a JSON-lines log, and ROC curves.
--
--   local plot = require('prior.plot')
--   plot.lines({1, 4, 9, 16}, {title = 'squares'})            --> runs/plots/lines_1.png
--   local fig = plot.figure{file = 'out/roc.pdf'}
--   fig:roc(scores, labels)
--   fig:close()
--
-- Every figure owns one gnuplot process, reused by all its plots; gnuplot's errors come back as Lua
-- errors with gnuplot's own text. Data travels through binary float64 files, never as text. Without an
-- explicit file or terminal a plot becomes a PNG in plot.outdir; terminal 'dumb' draws text on stdout.
-- Data arguments are Lua arrays (or arrays of rows for 2-D); plot.to_array is the one place that
-- turns an argument into such an array.
local gnuplot = require('prior.gnuplot')

local q = gnuplot.quote
local floor, ceil, max, min, huge = math.floor, math.ceil, math.max, math.min, math.huge

local plot = {}
plot.outdir = 'runs/plots'  -- where plots without a file name go
plot.terminal = 'png'       -- png | pdf | svg | dumb, or any gnuplot terminal name
plot.size = {800, 600}      -- pixels (pdf: 100 pixels per inch)
plot.dumb_size = {100, 30}  -- characters
plot.font = 'sans,10'
plot.quiet = false          -- true: do not echo gnuplot's warnings to stderr

-- Colours of successive series (a colour-blind-safe ten-colour cycle).
local COLORS = {'#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f',
                '#bcbd22', '#17becf'}
local POINT_TYPES = {7, 5, 9, 11, 13}

-- Colour maps as (position, r, g, b) stops, for gnuplot palettes and for overlays coloured in Lua.
local CMAPS = {
  viridis = {{0, 68, 1, 84}, {0.25, 59, 82, 139}, {0.5, 33, 145, 140}, {0.75, 94, 201, 98}, {1, 253, 231, 37}},
  jet = {{0, 0, 0, 131}, {0.125, 0, 60, 170}, {0.375, 5, 255, 255}, {0.625, 255, 255, 0}, {0.875, 250, 0, 0},
         {1, 128, 0, 0}},
  hot = {{0, 0, 0, 0}, {0.375, 230, 0, 0}, {0.75, 255, 210, 0}, {1, 255, 255, 255}},
  gray = {{0, 0, 0, 0}, {1, 255, 255, 255}},
  rdbu = {{0, 5, 48, 97}, {0.25, 67, 147, 195}, {0.5, 247, 247, 247}, {0.75, 214, 96, 77}, {1, 103, 0, 31}},
}

---------------------------------------------------------------------------------------------------------
-- Data arguments

-- The single adapter from a data argument to a plain Lua array. Tensors get their branch here.
function plot.to_array(v, what)
  if type(v) == 'table' then return v end
  local prior = package.loaded.prior
  if prior and prior.is_tensor(v) then
    local nd = v:dim()
    if nd ~= 1 and nd ~= 2 then
      error(string.format('plot: %s must be a 1-D or 2-D tensor, got %d dims', what or 'data', nd), 0)
    end
    return v:totable()
  end
  error(string.format('plot: %s must be an array (a Lua table or a tensor), got %s', what or 'data', type(v)), 0)
end

local function numbers(v, what)
  local a = plot.to_array(v, what)
  for i = 1, #a do
    if type(a[i]) ~= 'number' then
      error(string.format('plot: %s[%d] is %s, not a number', what, i, type(a[i])), 0)
    end
  end
  return a
end

-- A 2-D argument: an array of equally long rows of numbers. Returns rows, nrows, ncols.
local function matrix(v, what)
  local rows = plot.to_array(v, what)
  local nr = #rows
  if nr == 0 then error('plot: ' .. what .. ' is empty', 0) end
  local nc
  for r = 1, nr do
    local row = numbers(rows[r], string.format('%s[%d]', what, r))
    nc = nc or #row
    if #row ~= nc or nc == 0 then
      error(string.format('plot: %s is not rectangular: row 1 has %d values, row %d has %d', what, nc, r, #row), 0)
    end
    rows[r] = row
  end
  return rows, nr, nc
end

local function range_of(a, lo, hi)
  lo, hi = lo or huge, hi or -huge
  for i = 1, #a do
    local v = a[i]
    if v == v then lo, hi = min(lo, v), max(hi, v) end -- NaN skipped
  end
  return lo, hi
end

local function cmap_color(name, t)
  local stops = CMAPS[name] or error('plot: unknown colour map ' .. tostring(name), 0)
  if t ~= t then t = 0 end
  t = min(1, max(0, t))
  for k = 2, #stops do
    local a, b = stops[k - 1], stops[k]
    if t <= b[1] then
      local u = (t - a[1]) / (b[1] - a[1])
      return a[2] + u * (b[2] - a[2]), a[3] + u * (b[3] - a[3]), a[4] + u * (b[4] - a[4])
    end
  end
  local s = stops[#stops]
  return s[2], s[3], s[4]
end

local function palette_cmd(name)
  local stops = CMAPS[name or 'viridis'] or error('plot: unknown colour map ' .. tostring(name), 0)
  local parts = {}
  for _, s in ipairs(stops) do parts[#parts + 1] = string.format("%g '#%02x%02x%02x'", s[1], s[2], s[3], s[4]) end
  return 'set palette defined (' .. table.concat(parts, ', ') .. ')'
end

---------------------------------------------------------------------------------------------------------
-- Figures and their gnuplot process

local Figure = {}
Figure.__index = Figure

-- opts: file, terminal, size, font, name (prefix of automatic file names).
function plot.figure(opts)
  local fig = setmetatable({opts = opts or {}}, Figure)
  -- Closing the figure when it is collected ends its gnuplot.
  local proxy = newproxy(true)
  getmetatable(proxy).__gc = function() fig:close() end
  fig.gc_proxy = proxy
  return fig
end

function Figure:process()
  if not (self.proc and self.proc:alive()) then
    if self.proc then self.proc:close() end
    self.proc = gnuplot.start()
    local init = {'set encoding utf8'}
    for i, c in ipairs(COLORS) do
      init[#init + 1] = string.format("set linetype %d lc rgb '%s' lw 2 pt %d", i, c, POINT_TYPES[1])
    end
    init[#init + 1] = 'set linetype cycle ' .. #COLORS
    self.proc:send(init)
  end
  return self.proc
end

function Figure:close()
  if self.proc then self.proc:close() end
  self.proc = nil
end

local function echo(said)
  if said and said:match('%S') and not plot.quiet then
    io.stderr:write('gnuplot: ', (said:gsub('^%s+', ''):gsub('%s+$', '')), '\n')
  end
end

-- Sends raw gnuplot commands; returns what gnuplot printed.
function Figure:raw(commands)
  local said = self:process():send(commands)
  echo(said)
  return said
end

local TERM_OF_EXT = {png = 'png', pdf = 'pdf', svg = 'svg', txt = 'dumb'}
local EXT_OF_TERM = {png = 'png', pdf = 'pdf', svg = 'svg', dumb = 'txt'}
local counter = 0

local function mkdir_p(dir)
  os.execute("mkdir -p '" .. dir:gsub("'", "'\\''") .. "' 2>/dev/null")
end

local function exists(path)
  local f = io.open(path, 'rb')
  if f then f:close() end
  return f ~= nil
end

-- Picks terminal and output file for one plot: an explicit file (terminal from its extension), else
-- an explicit terminal, else plot.terminal; files without a name go to plot.outdir.
function Figure:output(opts, kind)
  local file = opts.file or self.opts.file
  local term = opts.terminal or self.opts.terminal
  if file and not term then
    local ext = (file:match('%.(%w+)$') or ''):lower()
    term = TERM_OF_EXT[ext] or error('plot: cannot tell the terminal from file name ' .. file ..
                                     ' (use .png, .pdf, .svg or .txt, or pass terminal=)', 0)
  end
  term = term or plot.terminal or 'png'
  if not file and EXT_OF_TERM[term] and term ~= 'dumb' then
    mkdir_p(plot.outdir)
    local name = opts.name or self.opts.name or kind
    repeat
      counter = counter + 1
      file = string.format('%s/%s_%d.%s', plot.outdir, name, counter, EXT_OF_TERM[term])
    until not exists(file)
  elseif file then
    local dir = file:match('^(.*)/[^/]*$')
    if dir and dir ~= '' then mkdir_p(dir) end
  end
  return term, file
end

local function terminal_cmd(term, opts, fig)
  local font = opts.font or fig.opts.font or plot.font
  if term == 'dumb' then
    local size = opts.size or fig.opts.size or plot.dumb_size
    return string.format('set terminal dumb size %d,%d noenhanced', size[1], size[2])
  end
  local size = opts.size or fig.opts.size or plot.size
  if term == 'png' then
    return string.format('set terminal pngcairo size %d,%d noenhanced font %s background rgb "white"',
                         size[1], size[2], q(font))
  elseif term == 'pdf' then
    return string.format('set terminal pdfcairo size %gin,%gin noenhanced font %s', size[1] / 100, size[2] / 100,
                         q(font))
  elseif term == 'svg' then
    return string.format('set terminal svg size %d,%d noenhanced font %s background rgb "white"', size[1], size[2],
                         q(font))
  end
  return 'set terminal ' .. term
end

-- Starts a plot: a live process, data files of the previous plot removed.
function Figure:begin()
  local p = self:process()
  if not self.in_multiplot then p:clear_files() end
  return p
end

-- Points gnuplot at the output, in a round trip of its own: if the file cannot be opened, gnuplot
-- would otherwise draw the plot on stdout.
local function open_output(p, term, file, opts, fig)
  echo(p:send({'reset', terminal_cmd(term, opts, fig), file and 'set output ' .. q(file) or 'set output'}))
end

-- Runs one plot's commands, wrapped in terminal and output handling (unless inside a multiplot, whose
-- panels share the output). Returns the output file.
function Figure:finish(cmds, opts, kind)
  local batch = {}
  local file
  if self.in_multiplot then
    batch[1] = 'reset'
  else
    local term
    term, file = self:output(opts, kind)
    open_output(self.proc, term, file, opts, self)
  end
  for _, c in ipairs(cmds) do batch[#batch + 1] = c end
  if not self.in_multiplot then batch[#batch + 1] = 'unset output' end
  if not file then io.stdout:flush() end -- text drawn on stdout comes after what Lua printed
  echo(self.proc:send(batch))
  return file
end

local function range_str(r)
  if not r then return nil end
  local function b(v) return v == nil and '*' or string.format('%.17g', v) end
  return '[' .. b(r[1]) .. ':' .. b(r[2]) .. ']'
end

-- Settings shared by every kind: titles, labels, ranges, log scales, grid, key.
local function axes(opts, cmds)
  if opts.title then cmds[#cmds + 1] = 'set title ' .. q(opts.title) end
  if opts.xlabel then cmds[#cmds + 1] = 'set xlabel ' .. q(opts.xlabel) end
  if opts.ylabel then cmds[#cmds + 1] = 'set ylabel ' .. q(opts.ylabel) end
  if opts.xrange then cmds[#cmds + 1] = 'set xrange ' .. range_str(opts.xrange) end
  if opts.yrange then cmds[#cmds + 1] = 'set yrange ' .. range_str(opts.yrange) end
  if opts.logx then cmds[#cmds + 1] = 'set logscale x' .. (type(opts.logx) == 'number' and ' ' .. opts.logx or '') end
  if opts.logy then cmds[#cmds + 1] = 'set logscale y' .. (type(opts.logy) == 'number' and ' ' .. opts.logy or '') end
  if opts.grid ~= false then cmds[#cmds + 1] = "set grid back lt 0 lw 1 lc rgb '#c8c8c8'" end
  if opts.key == false then
    cmds[#cmds + 1] = 'unset key'
  else
    cmds[#cmds + 1] = 'set key ' .. (opts.key or 'top right') .. ' box opaque Left reverse width 1'
  end
  for _, c in ipairs(opts.commands or {}) do cmds[#cmds + 1] = c end -- raw extras from the caller
  return cmds
end

local function title_of(t)
  return t and 'title ' .. q(t) or 'notitle'
end

-- Writes columns to a binary file and returns the plot source "'file' binary format=... using ...".
local function source(p, columns, n, using)
  local path = p:tempfile()
  local fmt = gnuplot.write_columns(path, columns, n)
  return string.format("%s binary format='%s' using %s", q(path), fmt, using)
end

---------------------------------------------------------------------------------------------------------
-- Plot kinds

-- A list of series from: an array of numbers; {y=..., x=..., title=...}; or a list of either.
local function series_list(v, what)
  local s = plot.to_array(v, what)
  if type(s[1]) == 'number' or (s.y == nil and #s == 0) then return {{y = s}} end
  if s.y then return {s} end
  local out = {}
  for i, e in ipairs(s) do
    e = plot.to_array(e, string.format('%s[%d]', what, i))
    out[i] = e.y and e or {y = e}
  end
  return out
end

-- opts: title, xlabel, ylabel, xrange, yrange, logx, logy, key, vlines = {x, ...} or {{x=, label=}, ...}.
-- Each series: y, x (default 1..n), title, style ('lines', 'linespoints', 'points'), width, dash, color.
function Figure:lines(series, opts)
  opts = opts or {}
  local p = self:begin()
  local cmds = axes(opts, {})
  for _, v in ipairs(opts.vlines or {}) do
    local x, label = type(v) == 'table' and v.x or v, type(v) == 'table' and v.label or nil
    cmds[#cmds + 1] = string.format('set arrow from %.17g, graph 0 to %.17g, graph 1 nohead dt 2 lc rgb "#888888" lw 1',
                                    x, x)
    if label then
      cmds[#cmds + 1] = string.format('set label %s at %.17g, graph 0.97 left offset 0.5,0 tc rgb "#555555"', q(label), x)
    end
  end
  local parts, titled = {}, false
  for i, s in ipairs(series_list(series, 'series')) do
    titled = titled or s.title ~= nil
    local y = numbers(s.y, string.format('series %d y', i))
    local x = s.x and numbers(s.x, string.format('series %d x', i))
    if x and #x ~= #y then
      error(string.format('plot.lines: series %d has %d x values and %d y values', i, #x, #y), 0)
    end
    if not x then
      x = {}
      for k = 1, #y do x[k] = k end
    end
    local style = s.style or opts.style or 'lines'
    parts[#parts + 1] = string.format('%s with %s lw %g%s%s %s', source(p, {x, y}, #y, '1:2'), style, s.width or 2,
                                      s.dash and ' dt ' .. s.dash or '', s.color and ' lc rgb ' .. q(s.color) or '',
                                      title_of(s.title))
  end
  if #parts == 0 then error('plot.lines: no series', 0) end
  if not titled then cmds[#cmds + 1] = 'unset key' end
  cmds[#cmds + 1] = 'plot ' .. table.concat(parts, ', \\\n  ')
  return self:finish(cmds, opts, 'lines')
end

-- Points as an array of {x, y} pairs, or {x = {...}, y = {...}}.
local function xy_of(points)
  local pts = plot.to_array(points, 'points')
  if pts.x then
    local x, y = numbers(pts.x, 'points.x'), numbers(pts.y, 'points.y')
    if #x ~= #y then error(string.format('plot.scatter: %d x values and %d y values', #x, #y), 0) end
    return x, y
  end
  local x, y = {}, {}
  for i = 1, #pts do
    local r = plot.to_array(pts[i], 'points[' .. i .. ']')
    if type(r[1]) ~= 'number' or type(r[2]) ~= 'number' then
      error(string.format('plot.scatter: points[%d] is not a pair of numbers', i), 0)
    end
    x[i], y[i] = r[1], r[2]
  end
  return x, y
end

-- opts: classes (a label per point: one colour and legend entry per class), class_names (label ->
-- legend text), values (a number per point, coloured through a palette), pointsize, cmap, and the
-- common axis options.
function Figure:scatter(points, opts)
  opts = opts or {}
  local p = self:begin()
  local x, y = xy_of(points)
  local cmds = axes(opts, {})
  local ps = opts.pointsize or (#x > 2000 and 0.4 or #x > 300 and 0.7 or 1)
  local parts = {}
  if opts.values then
    local v = numbers(opts.values, 'values')
    if #v ~= #x then error(string.format('plot.scatter: %d values for %d points', #v, #x), 0) end
    cmds[#cmds + 1] = palette_cmd(opts.cmap)
    if opts.cblabel then cmds[#cmds + 1] = 'set cblabel ' .. q(opts.cblabel) end
    parts[1] = string.format('%s with points pt 7 ps %g lc palette %s', source(p, {x, y, v}, #x, '1:2:3'), ps,
                             title_of(opts.series_title))
  elseif opts.classes then
    local cls = plot.to_array(opts.classes, 'classes')
    if #cls ~= #x then error(string.format('plot.scatter: %d classes for %d points', #cls, #x), 0) end
    local order, members = {}, {}
    for i = 1, #cls do
      local c = cls[i]
      if members[c] == nil then
        members[c] = {}
        order[#order + 1] = c
      end
      local m = members[c]
      m[#m + 1] = i
    end
    table.sort(order, function(a, b)
      if type(a) == type(b) then return a < b end
      return type(a) == 'number'
    end)
    for k, c in ipairs(order) do
      local cx, cy = {}, {}
      for j, i in ipairs(members[c]) do cx[j], cy[j] = x[i], y[i] end
      local name = opts.class_names and opts.class_names[c] or tostring(c)
      parts[#parts + 1] = string.format('%s with points lt %d pt %d ps %g %s', source(p, {cx, cy}, #cx, '1:2'),
                                        (k - 1) % #COLORS + 1, POINT_TYPES[floor((k - 1) / #COLORS) % #POINT_TYPES + 1],
                                        ps, title_of(name))
    end
  else
    parts[1] = string.format('%s with points pt 7 ps %g %s', source(p, {x, y}, #x, '1:2'), ps,
                             title_of(opts.series_title))
  end
  if #x == 0 then error('plot.scatter: no points', 0) end
  if not opts.classes and not opts.series_title then cmds[#cmds + 1] = 'unset key' end
  cmds[#cmds + 1] = 'plot ' .. table.concat(parts, ', \\\n  ')
  return self:finish(cmds, opts, 'scatter')
end

local function category_tics(labels, n, cmds)
  local t = {}
  labels = labels or {}
  for i = 1, n do t[i] = string.format('%s %d', q(tostring(labels[i] or i)), i - 1) end
  cmds[#cmds + 1] = 'set xtics (' .. table.concat(t, ', ') .. ')'
  if n > 8 then cmds[#cmds + 1] = 'set xtics rotate by -40 left' end
end

-- Bars: values (one series) or a list of {values=..., title=...} drawn side by side per category;
-- opts.labels names the categories.
function Figure:bars(values, opts)
  opts = opts or {}
  local p = self:begin()
  local v = plot.to_array(values, 'values')
  local groups = type(v[1]) == 'number' and {{values = v}} or v
  local ng, ncat = #groups, 0
  for i, g in ipairs(groups) do
    g = g.values and g or {values = g}
    groups[i] = g
    ncat = max(ncat, #numbers(g.values, string.format('values[%d]', i)))
  end
  local cmds = axes(opts, {})
  cmds[#cmds + 1] = 'set style fill solid 0.85 border rgb "#333333"'
  cmds[#cmds + 1] = string.format('set boxwidth %g absolute', 0.8 / ng)
  cmds[#cmds + 1] = string.format('set xrange [-0.6:%g]', ncat - 0.4)
  if not opts.yrange then
    local lo = 0
    for _, g in ipairs(groups) do lo = min(lo, (range_of(g.values))) end
    if lo >= 0 then cmds[#cmds + 1] = 'set yrange [0:*]' end
  end
  cmds[#cmds + 1] = 'set grid noxtics'
  category_tics(opts.labels, ncat, cmds)
  local parts = {}
  for k, g in ipairs(groups) do
    local xs = {}
    for i = 1, #g.values do xs[i] = (i - 1) + (k - (ng + 1) / 2) * 0.8 / ng end
    parts[k] = string.format('%s with boxes lt %d %s', source(p, {xs, g.values}, #g.values, '1:2'), k, title_of(g.title))
  end
  if ng == 1 and not groups[1].title then cmds[#cmds + 1] = 'unset key' end
  cmds[#cmds + 1] = 'plot ' .. table.concat(parts, ', ')
  return self:finish(cmds, opts, 'bars')
end

-- Histogram counts of values over `bins` equal bins spanning [lo, hi]. Returns counts and edges.
function plot.histogram_counts(values, bins, lo, hi)
  local counts, edges = {}, {}
  local w = (hi - lo) / bins
  for b = 1, bins do counts[b] = 0 end
  for b = 0, bins do edges[b + 1] = lo + b * w end
  for i = 1, #values do
    local v = values[i]
    if v == v and v >= lo and v <= hi then
      local b = w > 0 and floor((v - lo) / w) + 1 or 1
      if b > bins then b = bins end
      counts[b] = counts[b] + 1
    end
  end
  return counts, edges
end

-- Histogram of values (one array, or a list of {values=..., title=...} overlaid with transparency).
-- opts: bins (default from the Rice rule), range = {lo, hi}, density (normalise to unit area).
function Figure:hist(values, opts)
  opts = opts or {}
  local p = self:begin()
  local v = plot.to_array(values, 'values')
  local sets = type(v[1]) == 'number' and {{values = v}} or v
  local lo, hi, n = huge, -huge, 0
  for i, s in ipairs(sets) do
    s = s.values and s or {values = s}
    sets[i] = s
    numbers(s.values, string.format('values[%d]', i))
    lo, hi = range_of(s.values, lo, hi)
    n = max(n, #s.values)
  end
  if n == 0 or lo > hi then error('plot.hist: no finite values', 0) end
  if opts.range then lo, hi = opts.range[1], opts.range[2] end
  if hi == lo then lo, hi = lo - 0.5, hi + 0.5 end
  local bins = opts.bins or min(100, max(10, ceil(2 * n ^ (1 / 3))))
  local width = (hi - lo) / bins
  local cmds = axes(opts, {})
  cmds[#cmds + 1] = string.format('set style fill transparent solid %g border', #sets > 1 and 0.45 or 0.85)
  cmds[#cmds + 1] = string.format('set boxwidth %.17g absolute', width)
  if not opts.yrange then cmds[#cmds + 1] = 'set yrange [0:*]' end
  if not opts.xrange then cmds[#cmds + 1] = string.format('set xrange [%.17g:%.17g]', lo, hi) end
  local parts, first_counts, first_edges = {}, nil, nil
  for k, s in ipairs(sets) do
    local counts, edges = plot.histogram_counts(s.values, bins, lo, hi)
    first_counts, first_edges = first_counts or counts, first_edges or edges
    local centres, heights, total = {}, {}, 0
    for b = 1, bins do total = total + counts[b] end
    for b = 1, bins do
      centres[b] = (edges[b] + edges[b + 1]) / 2
      heights[b] = opts.density and total > 0 and counts[b] / (total * width) or counts[b]
    end
    parts[k] = string.format('%s with boxes lt %d %s', source(p, {centres, heights}, bins, '1:2'), k, title_of(s.title))
  end
  if #sets == 1 and not sets[1].title then cmds[#cmds + 1] = 'unset key' end
  cmds[#cmds + 1] = 'plot ' .. table.concat(parts, ', ')
  return self:finish(cmds, opts, 'hist'), first_counts, first_edges
end

-- Writes a matrix (rows of numbers, row 1 first) as a float64 array file.
local function matrix_file(p, rows, nr, nc)
  local flat, k = {}, 0
  for r = 1, nr do
    local row = rows[r]
    for c = 1, nc do
      k = k + 1
      flat[k] = row[c]
    end
  end
  local path = p:tempfile()
  gnuplot.write_flat(path, flat, k)
  return path
end

-- Heat map of a matrix (row 1 at the top). opts: cmap ('viridis', 'jet', 'hot', 'gray', 'rdbu'),
-- cbrange, cblabel, xlabels / ylabels (tick text per column / row), annotate (print each cell's value;
-- format with opts.format, default '%.2f'), square.
function Figure:heatmap(m, opts)
  opts = opts or {}
  local p = self:begin()
  local rows, nr, nc = matrix(m, 'matrix')
  local cmds = axes(opts, {})
  cmds[#cmds + 1] = palette_cmd(opts.cmap)
  cmds[#cmds + 1] = string.format('set xrange [-0.5:%g]', nc - 0.5)
  cmds[#cmds + 1] = string.format('set yrange [%g:-0.5]', nr - 0.5)
  cmds[#cmds + 1] = 'unset grid'
  cmds[#cmds + 1] = 'unset key'
  cmds[#cmds + 1] = 'set tics out nomirror'
  if opts.cbrange then cmds[#cmds + 1] = 'set cbrange ' .. range_str(opts.cbrange) end
  if opts.cblabel then cmds[#cmds + 1] = 'set cblabel ' .. q(opts.cblabel) end
  if opts.square then cmds[#cmds + 1] = 'set size ratio -1' end
  local function tics(axis, labels, n)
    if not labels then return end
    local t = {}
    for i = 1, n do t[i] = string.format('%s %d', q(tostring(labels[i] or i)), i - 1) end
    cmds[#cmds + 1] = string.format('set %stics (%s)', axis, table.concat(t, ', '))
    if axis == 'x' and n > 6 then cmds[#cmds + 1] = 'set xtics rotate by -40 left' end
  end
  tics('x', opts.xlabels, nc)
  tics('y', opts.ylabels, nr)
  -- Without labels, small matrices get one tic per cell (0-based indices, like pixel coordinates).
  if not opts.xlabels and nc <= 30 then cmds[#cmds + 1] = 'set xtics 0,1' end
  if not opts.ylabels and nr <= 30 then cmds[#cmds + 1] = 'set ytics 0,1' end
  if opts.annotate then
    local lo, hi = huge, -huge
    for r = 1, nr do lo, hi = range_of(rows[r], lo, hi) end
    if opts.cbrange then lo, hi = opts.cbrange[1] or lo, opts.cbrange[2] or hi end
    for r = 1, nr do
      for c = 1, nc do
        local v = rows[r][c]
        local t = hi > lo and (v - lo) / (hi - lo) or 0.5
        cmds[#cmds + 1] = string.format('set label %s at %d,%d center front tc rgb "%s"',
                                        q(string.format(opts.format or '%.2f', v)), c - 1, r - 1,
                                        t > 0.6 and 'black' or 'white')
      end
    end
  end
  local path = matrix_file(p, rows, nr, nc)
  cmds[#cmds + 1] = string.format("plot %s binary array=(%d,%d) format='%%float64' with image notitle", q(path), nc, nr)
  return self:finish(cmds, opts, 'heatmap')
end

-- Bilinear resampling of a [nr, nc] matrix to [h, w] (pixel centres aligned, as image resizers do).
local function resample(rows, nr, nc, h, w)
  if nr == h and nc == w then return rows end
  local out = {}
  for r = 1, h do
    local fy = min(max((r - 0.5) * nr / h - 0.5, 0), nr - 1)
    local y0 = floor(fy)
    local y1, ty = min(y0 + 1, nr - 1), fy - y0
    local row, a, b = {}, rows[y0 + 1], rows[y1 + 1]
    for c = 1, w do
      local fx = min(max((c - 0.5) * nc / w - 0.5, 0), nc - 1)
      local x0 = floor(fx)
      local x1, tx = min(x0 + 1, nc - 1), fx - x0
      local top = a[x0 + 1] * (1 - tx) + a[x1 + 1] * tx
      local bot = b[x0 + 1] * (1 - tx) + b[x1 + 1] * tx
      row[c] = top * (1 - ty) + bot * ty
    end
    out[r] = row
  end
  return out
end

-- A grayscale image (rows of intensities, row 1 at the top), optionally under a heat map.
-- opts: range = {lo, hi} of the intensities (default: the data's), overlay (a matrix of any size,
-- resampled to the image), overlay_range, cmap (default 'jet'), alpha (overlay opacity, default 0.5),
-- alpha_by_value (opacity grows with the overlay value), axes (keep the pixel axes).
function Figure:image(img, opts)
  opts = opts or {}
  local p = self:begin()
  local rows, h, w = matrix(img, 'image')
  local lo, hi = huge, -huge
  for r = 1, h do lo, hi = range_of(rows[r], lo, hi) end
  if opts.range then lo, hi = opts.range[1], opts.range[2] end
  local span = hi > lo and hi - lo or 1
  local g, k = {}, 0
  for r = 1, h do
    for c = 1, w do
      local v = min(max((rows[r][c] - lo) / span, 0), 1) * 255
      g[k + 1], g[k + 2], g[k + 3] = v, v, v
      k = k + 3
    end
  end
  local gpath = p:tempfile()
  gnuplot.write_flat(gpath, g, k)
  local cmds = axes(opts, {})
  cmds[#cmds + 1] = string.format('set xrange [-0.5:%g]', w - 0.5)
  cmds[#cmds + 1] = string.format('set yrange [%g:-0.5]', h - 0.5)
  cmds[#cmds + 1] = 'set size ratio -1'
  cmds[#cmds + 1] = 'unset grid'
  cmds[#cmds + 1] = 'unset key'
  if not opts.axes then
    cmds[#cmds + 1] = 'unset tics'
    cmds[#cmds + 1] = 'unset border'
  end
  local plots = {string.format("%s binary array=(%d,%d) format='%%float64%%float64%%float64' with rgbimage", q(gpath), w, h)}
  if opts.overlay then
    local orows, oh, ow = matrix(opts.overlay, 'overlay')
    orows = resample(orows, oh, ow, h, w)
    local olo, ohi = huge, -huge
    for r = 1, h do olo, ohi = range_of(orows[r], olo, ohi) end
    if opts.overlay_range then olo, ohi = opts.overlay_range[1], opts.overlay_range[2] end
    local ospan = ohi > olo and ohi - olo or 1
    local alpha = opts.alpha or 0.5
    local o, n = {}, 0
    for r = 1, h do
      for c = 1, w do
        local t = min(max((orows[r][c] - olo) / ospan, 0), 1)
        local cr, cg, cb = cmap_color(opts.cmap or 'jet', t)
        o[n + 1], o[n + 2], o[n + 3] = cr, cg, cb
        o[n + 4] = 255 * alpha * (opts.alpha_by_value and t or 1)
        n = n + 4
      end
    end
    local opath = p:tempfile()
    gnuplot.write_flat(opath, o, n)
    plots[2] = string.format("%s binary array=(%d,%d) format='%%float64%%float64%%float64%%float64' with rgbalpha",
                             q(opath), w, h)
  end
  cmds[#cmds + 1] = 'plot ' .. table.concat(plots, ', ')
  return self:finish(cmds, opts, 'image')
end

-- A grid of panels: fn(fig) draws rows * cols plots, each into the next cell.
-- opts: title, file, terminal, size, name.
function Figure:multiplot(rows, cols, opts, fn)
  if type(opts) == 'function' then opts, fn = {}, opts end
  opts = opts or {}
  if self.in_multiplot then error('plot: multiplots do not nest', 0) end
  local p = self:begin()
  local term, file = self:output(opts, 'grid')
  open_output(p, term, file, opts, self)
  p:send(string.format('set multiplot layout %d,%d%s', rows, cols,
                       opts.title and ' title ' .. q(opts.title) .. ' font ",13"' or ''))
  self.in_multiplot = true
  local ok, err = pcall(fn, self)
  self.in_multiplot = false
  -- Always close the page and the file, even when a panel failed.
  local ok2, err2 = pcall(p.send, p, {'unset multiplot', 'unset output'})
  if not ok then error(err, 0) end
  if not ok2 then error(err2, 0) end
  return file
end

---------------------------------------------------------------------------------------------------------
-- Training curves from a JSON-lines log

-- A small JSON reader for log records: objects, arrays, strings, numbers, true/false/null. Returns the
-- value and, for objects, their keys in file order (Lua tables forget it).
local function json_decode(s)
  local pos = 1
  local function fail(msg) error(string.format('%s at character %d', msg, pos), 0) end
  local function ws() pos = s:find('[^ \t\r\n]', pos) or #s + 1 end
  local value
  local escapes = {['"'] = '"', ['\\'] = '\\', ['/'] = '/', b = '\b', f = '\f', n = '\n', r = '\r', t = '\t'}
  local function str()
    local out = {}
    pos = pos + 1
    while true do
      local c = s:sub(pos, pos)
      if c == '' then fail('unterminated string') end
      if c == '"' then
        pos = pos + 1
        return table.concat(out)
      elseif c == '\\' then
        local e = s:sub(pos + 1, pos + 1)
        if e == 'u' then
          local code = tonumber(s:sub(pos + 2, pos + 5), 16) or fail('bad \\u escape')
          out[#out + 1] = code < 128 and string.char(code) or '?'
          pos = pos + 6
        else
          out[#out + 1] = escapes[e] or fail('bad escape')
          pos = pos + 2
        end
      else
        out[#out + 1] = c
        pos = pos + 1
      end
    end
  end
  function value()
    ws()
    local c = s:sub(pos, pos)
    if c == '{' then
      local obj, keys = {}, {}
      pos = pos + 1
      ws()
      if s:sub(pos, pos) == '}' then pos = pos + 1 return obj, keys end
      while true do
        ws()
        if s:sub(pos, pos) ~= '"' then fail('expected a key') end
        local k = str()
        ws()
        if s:sub(pos, pos) ~= ':' then fail("expected ':'") end
        pos = pos + 1
        obj[k] = value()
        keys[#keys + 1] = k
        ws()
        local d = s:sub(pos, pos)
        pos = pos + 1
        if d == '}' then return obj, keys end
        if d ~= ',' then fail("expected ',' or '}'") end
      end
    elseif c == '[' then
      local arr = {}
      pos = pos + 1
      ws()
      if s:sub(pos, pos) == ']' then pos = pos + 1 return arr end
      while true do
        arr[#arr + 1] = value()
        ws()
        local d = s:sub(pos, pos)
        pos = pos + 1
        if d == ']' then return arr end
        if d ~= ',' then fail("expected ',' or ']'") end
      end
    elseif c == '"' then
      return str()
    elseif s:sub(pos, pos + 3) == 'true' then pos = pos + 4 return true
    elseif s:sub(pos, pos + 4) == 'false' then pos = pos + 5 return false
    elseif s:sub(pos, pos + 3) == 'null' then pos = pos + 4 return nil
    elseif s:sub(pos, pos + 2) == 'NaN' then pos = pos + 3 return 0 / 0
    elseif s:sub(pos, pos + 7) == 'Infinity' then pos = pos + 8 return huge
    elseif s:sub(pos, pos + 8) == '-Infinity' then pos = pos + 9 return -huge
    else
      local num = s:match('^-?%d+%.?%d*[eE]?[-+]?%d*', pos)
      if not num or num == '' or not tonumber(num) then fail('unexpected input') end
      pos = pos + #num
      return tonumber(num)
    end
  end
  local v, keys = value()
  ws()
  if pos <= #s then fail('trailing characters') end
  return v, keys
end

-- Reads a JSON-lines log: returns the records and the keys in order of first appearance.
function plot.read_jsonl(path)
  local f, err = io.open(path, 'r')
  if not f then error('plot.curves: cannot open ' .. tostring(err), 0) end
  local records, keys, seen, n = {}, {}, {}, 0
  for line in f:lines() do
    n = n + 1
    if line:match('%S') then
      local ok, rec, rkeys = pcall(json_decode, line)
      if not ok or type(rec) ~= 'table' then
        f:close()
        error(string.format('plot.curves: %s line %d is not a JSON object: %s', path, n, ok and 'not an object' or rec), 0)
      end
      records[#records + 1] = rec
      for _, k in ipairs(rkeys or {}) do
        if not seen[k] then seen[k], keys[#keys + 1] = true, k end
      end
    end
  end
  f:close()
  return records, keys
end

local X_KEYS = {'step', 'iter', 'iteration', 'epoch'}

-- One panel per numeric key of a JSON-lines training log, against opts.x (default the first of step,
-- iter, iteration, epoch present, else the record number). Where the 'stage' field (opts.stage) changes
-- a dashed vertical line marks the boundary. opts: keys (which keys, in order), exclude, logy (true
-- or a list of keys), cols, xrange (default: the whole log, shared by every panel), title,
-- file/terminal/size/name.
function Figure:curves(path, opts)
  opts = opts or {}
  local records, keys = plot.read_jsonl(path)
  if #records == 0 then error('plot.curves: ' .. path .. ' has no records', 0) end
  local stage_key = opts.stage or 'stage'
  local xkey = opts.x
  if not xkey then
    for _, k in ipairs(X_KEYS) do
      if records[1][k] ~= nil then xkey = k break end
    end
  end
  local skip = {[stage_key] = true}
  if xkey then skip[xkey] = true end
  for _, k in ipairs(opts.exclude or {}) do skip[k] = true end
  local panels = {}
  if opts.keys then
    panels = opts.keys
  else
    for _, k in ipairs(keys) do
      if not skip[k] then
        for _, r in ipairs(records) do
          if type(r[k]) == 'number' then panels[#panels + 1] = k break end
        end
      end
    end
  end
  if #panels == 0 then error('plot.curves: ' .. path .. ' has no numeric fields to plot', 0) end
  local function xval(i, r)
    return xkey and tonumber(r[xkey]) or i
  end
  local vlines, prev = {}, nil
  for i, r in ipairs(records) do
    local s = r[stage_key]
    if s ~= nil and prev ~= nil and s ~= prev then vlines[#vlines + 1] = {x = xval(i, r), label = stage_key .. ' ' .. tostring(s)} end
    if s ~= nil then prev = s end
  end
  -- Every panel spans the whole run, so the boundaries line up and terms of later stages sit where they ran.
  local xlo, xhi = huge, -huge
  for i, r in ipairs(records) do xlo, xhi = min(xlo, xval(i, r)), max(xhi, xval(i, r)) end
  local xrange = opts.xrange or (xhi > xlo and {xlo, xhi} or nil)
  local logy = {}
  if opts.logy == true then
    for _, k in ipairs(panels) do logy[k] = true end
  else
    for _, k in ipairs(opts.logy or {}) do logy[k] = true end
  end
  local cols = opts.cols or ceil(math.sqrt(#panels))
  local rows = ceil(#panels / cols)
  local gopts = {title = opts.title, file = opts.file, terminal = opts.terminal, name = opts.name or 'curves',
                 size = opts.size or (not (opts.terminal == 'dumb') and {min(1600, 420 * cols), min(1200, 320 * rows)} or nil)}
  return self:multiplot(rows, cols, gopts, function(fig)
    for _, k in ipairs(panels) do
      local xs, ys = {}, {}
      for i, r in ipairs(records) do
        local v = r[k]
        if type(v) == 'number' and (not logy[k] or v > 0) then xs[#xs + 1], ys[#ys + 1] = xval(i, r), v end
      end
      if #ys == 0 then xs, ys = {0}, {0 / 0} end
      fig:lines({{x = xs, y = ys}}, {title = k, xlabel = xkey, logy = logy[k], key = false, vlines = vlines, xrange = xrange})
    end
  end)
end

---------------------------------------------------------------------------------------------------------
-- ROC curves

-- ROC curve points (false positive rate, true positive rate) and the area under it. Labels are 1/true
-- for positives, 0/false for negatives; tied scores move along a diagonal, as the trapezoid rule scores
-- them.
function plot.roc_curve(scores, labels)
  scores = numbers(scores, 'scores')
  labels = plot.to_array(labels, 'labels')
  if #scores ~= #labels then error(string.format('plot.roc: %d scores and %d labels', #scores, #labels), 0) end
  local idx, pos, neg = {}, 0, 0
  for i = 1, #scores do
    idx[i] = i
    local l = labels[i]
    local positive = l == true or l == 1
    if not positive and not (l == false or l == 0) then
      error(string.format('plot.roc: labels[%d] is %s; labels must be 0/1 or false/true', i, tostring(l)), 0)
    end
    if positive then pos = pos + 1 else neg = neg + 1 end
  end
  if pos == 0 or neg == 0 then error('plot.roc: needs both positive and negative labels', 0) end
  table.sort(idx, function(a, b) return scores[a] > scores[b] end)
  local fpr, tpr, auc, tp, fp = {0}, {0}, 0, 0, 0
  local i = 1
  while i <= #idx do
    local s = scores[idx[i]]
    while i <= #idx and scores[idx[i]] == s do
      local l = labels[idx[i]]
      if l == true or l == 1 then tp = tp + 1 else fp = fp + 1 end
      i = i + 1
    end
    local x, y = fp / neg, tp / pos
    auc = auc + (x - fpr[#fpr]) * (y + tpr[#tpr]) / 2
    fpr[#fpr + 1], tpr[#tpr + 1] = x, y
  end
  return fpr, tpr, auc
end

-- ROC curve with the AUC in the legend. Either (scores, labels, opts) or a list of
-- {scores=, labels=, title=} and opts. Returns the output file and the AUC (a list for several curves).
function Figure:roc(scores, labels, opts)
  local curves
  local s = plot.to_array(scores, 'scores')
  if type(s[1]) == 'table' and s[1].scores then
    curves, opts = s, labels
  else
    curves = {{scores = s, labels = labels, title = (opts or {}).series_title}}
  end
  opts = opts or {}
  local series, aucs = {}, {}
  for k, c in ipairs(curves) do
    local fpr, tpr, auc = plot.roc_curve(c.scores, c.labels)
    aucs[k] = auc
    series[k] = {x = fpr, y = tpr, title = string.format('%sAUC = %.3f', c.title and c.title .. ', ' or '', auc)}
  end
  series[#series + 1] = {x = {0, 1}, y = {0, 1}, dash = 2, width = 1, color = '#999999'}
  local lopts = {}
  for k, v in pairs(opts) do lopts[k] = v end
  lopts.xlabel = opts.xlabel or 'false positive rate'
  lopts.ylabel = opts.ylabel or 'true positive rate'
  lopts.xrange = opts.xrange or {0, 1}
  lopts.yrange = opts.yrange or {0, 1.02}
  lopts.key = opts.key or 'bottom right'
  lopts.name = opts.name or 'roc'
  lopts.commands = {'set size ratio -1'}
  for _, c in ipairs(opts.commands or {}) do lopts.commands[#lopts.commands + 1] = c end
  local file = self:lines(series, lopts)
  return file, #aucs == 1 and aucs[1] or aucs
end

---------------------------------------------------------------------------------------------------------
-- Module-level functions draw on one shared default figure.

local default_fig
function plot.default()
  if not default_fig then default_fig = plot.figure() end
  return default_fig
end

for _, name in ipairs({'lines', 'scatter', 'bars', 'hist', 'heatmap', 'image', 'multiplot', 'curves', 'roc', 'raw'}) do
  plot[name] = function(...) return Figure[name](plot.default(), ...) end
end

function plot.close()
  if default_fig then default_fig:close() end
  default_fig = nil
end

plot.Figure = Figure
return plot
