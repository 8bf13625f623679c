-- prior.plot: every plot kind renders a PNG of the requested size that is not blank (decoded here with
-- zlib through the FFI), PDF/SVG/dumb outputs are written, gnuplot errors come back as Lua errors with
-- gnuplot's text, one gnuplot process serves a figure's plots, and a dead gnuplot is noticed.
-- Run from the repository root: prior tests/lua/test_plot.lua (exit 77 = skipped, no gnuplot).
local ffi = require('ffi')

if os.execute('gnuplot --version >/dev/null 2>&1') ~= 0 then
  print('test_plot: gnuplot not found, skipped')
  os.exit(77)
end

local plot = require('prior.plot')

local T = require 'prior.testing'

local tmp = os.tmpname()
os.remove(tmp)
os.execute("mkdir -p '" .. tmp .. "'")
plot.outdir = tmp .. '/auto'

local function read(path)
  local f = io.open(path, 'rb')
  if not f then return nil end
  local s = f:read('*a')
  f:close()
  return s
end

local png = dofile('tests/lua/helpers/png.lua')
local zok, png_info, png_pixels = png.available, png.info, png.pixels

-- Checks a PNG: exists, has the size asked for, and shows something (enough non-white pixels and
-- several colours). Returns the pixel reader for further checks.
local function check_png(path, w, h, what)
  local info, err = png_info(path or '')
  T.truthy(info ~= nil, what .. ': ' .. tostring(err))
  if not info then return nil end
  T.truthy(info.w == w and info.h == h, string.format('%s: PNG is %dx%d, expected %dx%d', what, info.w, info.h, w, h))
  T.truthy(info.bytes > 3000, what .. ': PNG only ' .. info.bytes .. ' bytes')
  if not zok then return nil end
  local px = png_pixels(path)
  local ink, colours, ncol = 0, {}, 0
  for y = 0, h - 1, 2 do
    for x = 0, w - 1, 2 do
      local r, g, b = px(x, y)
      if r < 240 or g < 240 or b < 240 then ink = ink + 1 end
      local key = r * 65536 + g * 256 + b
      if not colours[key] then colours[key], ncol = true, ncol + 1 end
    end
  end
  local frac = ink / ((w / 2) * (h / 2))
  T.truthy(frac > 0.01, string.format('%s: only %.4f of the pixels are drawn', what, frac))
  T.truthy(ncol >= 3, string.format('%s: only %d colours', what, ncol))
  return px
end

-- Counts pixels close to an RGB colour.
local function count_colour(px, w, h, r0, g0, b0, tol)
  local n = 0
  for y = 0, h - 1 do
    for x = 0, w - 1 do
      local r, g, b = px(x, y)
      if math.abs(r - r0) <= tol and math.abs(g - g0) <= tol and math.abs(b - b0) <= tol then n = n + 1 end
    end
  end
  return n
end

local W, H = 640, 480
local fig = plot.figure{size = {W, H}}

---------------------------------------------------------------------------------------------------------
T.test('lines', function()
  local x, y1, y2 = {}, {}, {}
  for i = 1, 200 do x[i], y1[i], y2[i] = i / 20, math.sin(i / 20), math.exp(-i / 50) end
  local path = fig:lines({{x = x, y = y1, title = 'sin'}, {x = x, y = y2, title = 'decay', style = 'linespoints'}},
                         {file = tmp .. '/lines.png', title = 'Lines', xlabel = 't', ylabel = 'value',
                          yrange = {-1.2, 1.2}})
  T.truthy(path == tmp .. '/lines.png', 'lines returns its file')
  local px = check_png(path, W, H, 'lines')
  if px then T.truthy(count_colour(px, W, H, 0x1f, 0x77, 0xb4, 30) > 100, 'lines: first series colour missing') end
  check_png(fig:lines({1, 10, 100, 1000}, {file = tmp .. '/log.png', logy = true, title = 'log y'}), W, H, 'log lines')
end)

T.test('scatter with classes', function()
  local pts, cls = {}, {}
  for i = 1, 600 do
    local c = i % 3
    local a = i * 2.399
    pts[i] = {c * 6 + math.cos(a) * (i % 17) / 10, (c % 2) * 4 + math.sin(a) * (i % 13) / 10}
    cls[i] = ({'normal', 'pneumonia', 'covid'})[c + 1]
  end
  local path = fig:scatter(pts, {classes = cls, file = tmp .. '/scatter.png', title = 't-SNE of embeddings'})
  local px = check_png(path, W, H, 'scatter')
  if px then
    T.truthy(count_colour(px, W, H, 0x1f, 0x77, 0xb4, 30) > 200, 'scatter: class 1 colour missing')
    T.truthy(count_colour(px, W, H, 0xff, 0x7f, 0x0e, 30) > 200, 'scatter: class 2 colour missing')
    T.truthy(count_colour(px, W, H, 0x2c, 0xa0, 0x2c, 30) > 200, 'scatter: class 3 colour missing')
  end
  local vals = {}
  for i = 1, #pts do vals[i] = pts[i][1] end
  check_png(fig:scatter({x = {1, 2, 3, 4}, y = {4, 3, 2, 1}}, {values = {1, 2, 3, 4}, file = tmp .. '/scatter_v.png'}),
            W, H, 'scatter by value')
end)

T.test('bars', function()
  local path = fig:bars({{values = {0.81, 0.77, 0.90}, title = 'ours'}, {values = {0.79, 0.70, 0.88}, title = 'baseline'}},
                        {labels = {'CheXpert', 'RSNA', 'SIIM'}, file = tmp .. '/bars.png', title = 'AUC', yrange = {0, 1}})
  check_png(path, W, H, 'bars')
end)

T.test('histogram', function()
  local v = {}
  for i = 1, 5000 do v[i] = math.sin(i * 12.9898) * 43758.5453 % 1 + math.sin(i * 78.233) * 0.5 end
  local path, counts, edges = fig:hist(v, {file = tmp .. '/hist.png', bins = 40, title = 'histogram'})
  check_png(path, W, H, 'hist')
  local total = 0
  for _, c in ipairs(counts) do total = total + c end
  T.truthy(#counts == 40 and #edges == 41 and total == 5000, 'hist: counts cover every value')
  local c = plot.histogram_counts({0, 0.5, 1, 1, 2}, 2, 0, 2)
  T.truthy(c[1] == 2 and c[2] == 3, 'histogram_counts: the last edge belongs to the last bin')
end)

T.test('heatmap', function()
  local m = {}
  for r = 1, 14 do
    m[r] = {}
    for c = 1, 14 do m[r][c] = math.exp(-((r - 5) ^ 2 + (c - 9) ^ 2) / 20) end
  end
  check_png(fig:heatmap(m, {file = tmp .. '/heat.png', title = 'attention', cblabel = 'weight'}), W, H, 'heatmap')
  local cm = {{50, 2, 1}, {3, 40, 7}, {0, 5, 45}}
  check_png(fig:heatmap(cm, {file = tmp .. '/confusion.png', annotate = true, format = '%d',
                             xlabels = {'a', 'b', 'c'}, ylabels = {'a', 'b', 'c'}, square = true}), W, H, 'confusion')
end)

T.test('image with overlay', function()
  local img, ov = {}, {}
  for r = 1, 96 do
    img[r] = {}
    for c = 1, 96 do img[r][c] = 0.5 + 0.5 * math.sin(r / 7) * math.cos(c / 9) end
  end
  for r = 1, 12 do
    ov[r] = {}
    for c = 1, 12 do ov[r][c] = math.exp(-((r - 4) ^ 2 + (c - 9) ^ 2) / 3) end
  end
  local px = check_png(fig:image(img, {overlay = ov, alpha = 0.6, file = tmp .. '/image.png', title = 'overlay'}),
                       W, H, 'image')
  if px then
    local red = 0
    for y = 0, H - 1, 2 do
      for x = 0, W - 1, 2 do
        local r, g, b = px(x, y)
        if r > 150 and g < 90 and b < 90 then red = red + 1 end
      end
    end
    T.truthy(red > 50, 'image: the overlay peak is not red (' .. red .. ' pixels)')
    -- The top-right quadrant holds the peak (row 4, column 9 of 12).
  end
  check_png(fig:image(img, {file = tmp .. '/gray.png'}), W, H, 'gray image')
end)

T.test('multiplot grid', function()
  local path = fig:multiplot(2, 2, {file = tmp .. '/grid.png', title = 'Grid'}, function(f)
    f:lines({1, 3, 2, 4}, {title = 'a'})
    f:bars({3, 1, 2}, {title = 'b'})
    f:hist({1, 2, 2, 3, 3, 3}, {title = 'c'})
    f:heatmap({{1, 2}, {3, 4}}, {title = 'd'})
  end)
  check_png(path, W, H, 'grid')
  local ok, err = pcall(fig.multiplot, fig, 1, 2, {file = tmp .. '/grid_bad.png'}, function(f)
    f:lines({1, 2})
    f:raw('plot sin(')
  end)
  T.truthy(not ok and tostring(err):match('invalid expression'), 'an error inside a grid propagates: ' .. tostring(err))
  check_png(fig:lines({1, 2, 1}, {file = tmp .. '/after_grid.png'}), W, H, 'plot after a failed grid')
end)

T.test('curves', function()
  local log = tmp .. '/log.jsonl'
  local f = assert(io.open(log, 'w'))
  for step = 1, 300 do
    local stage = step <= 100 and 'warmup' or (step <= 200 and 'main' or 'finetune')
    f:write(string.format('{"step": %d, "stage": "%s", "loss": %.6f, "lr": %.3e, "acc": %.4f, "note": "x"}\n',
                          step, stage, 2 * math.exp(-step / 80) + 0.1, 1e-3 * math.min(1, step / 100),
                          1 - math.exp(-step / 60)))
    if step % 50 == 0 then f:write(string.format('{"step": %d, "val_loss": %.5f}\n', step, math.exp(-step / 90))) end
  end
  f:close()
  local records, keys = plot.read_jsonl(log)
  T.truthy(#records == 306, 'read_jsonl: 306 records, got ' .. #records)
  T.truthy(keys[1] == 'step' and keys[2] == 'stage' and keys[3] == 'loss', 'read_jsonl keeps key order')
  local path = fig:curves(log, {file = tmp .. '/curves.png', size = {W, H}, logy = {'loss'}, title = 'training'})
  check_png(path, W, H, 'curves')
  f = assert(io.open(tmp .. '/bad.jsonl', 'w'))
  f:write('{"step": 1, "loss": 1.0}\n{"step": 2, "loss": }\n')
  f:close()
  local ok, err = pcall(fig.curves, fig, tmp .. '/bad.jsonl', {file = tmp .. '/bad.png'})
  T.truthy(not ok and tostring(err):match('line 2'), 'curves: a broken line is named: ' .. tostring(err))
  ok, err = pcall(fig.curves, fig, tmp .. '/missing.jsonl')
  T.truthy(not ok and tostring(err):match('cannot open'), 'curves: missing file: ' .. tostring(err))
end)

T.test('roc', function()
  local path, auc = fig:roc({0.9, 0.8, 0.7, 0.6, 0.55, 0.4, 0.3, 0.2}, {1, 1, 0, 1, 0, 1, 0, 0},
                            {file = tmp .. '/roc.png', title = 'ROC'})
  T.truthy(math.abs(auc - 13 / 16) < 1e-12, 'roc: AUC 13/16, got ' .. tostring(auc))
  check_png(path, W, H, 'roc')
  local _, _, tied = plot.roc_curve({0.5, 0.5, 0.5, 0.5}, {true, false, true, false})
  T.truthy(math.abs(tied - 0.5) < 1e-12, 'roc: all scores tied gives 0.5')
  local _, aucs = fig:roc({{scores = {1, 2, 3, 4}, labels = {0, 0, 1, 1}, title = 'perfect'},
                           {scores = {4, 3, 2, 1}, labels = {0, 0, 1, 1}, title = 'inverted'}}, {file = tmp .. '/roc2.png'})
  T.truthy(aucs[1] == 1 and aucs[2] == 0, 'roc: several curves return their AUCs')
  local ok, err = pcall(plot.roc_curve, {1, 2}, {1, 1})
  T.truthy(not ok and tostring(err):match('both positive and negative'), 'roc: one class only is refused')
end)

T.test('pdf, svg and dumb outputs', function()
  local pdf = fig:lines({1, 2, 3}, {file = tmp .. '/x.pdf', title = 'pdf'})
  T.truthy((read(pdf) or ''):sub(1, 5) == '%PDF-', 'pdf written')
  local svg = fig:scatter({{1, 2}, {2, 3}, {3, 1}}, {file = tmp .. '/x.svg'})
  T.truthy((read(svg) or ''):match('<svg'), 'svg written')
  local txt = fig:lines({1, 4, 2, 8, 5}, {file = tmp .. '/x.txt', title = 'dumb plot'})
  local text = read(txt) or ''
  local ink = select(2, text:gsub('%S', ''))
  T.truthy(ink > 200 and text:match('dumb plot'), 'dumb text has a plot (' .. ink .. ' characters)')
  -- Without a file name, plots land in plot.outdir with the default terminal.
  local auto = plot.figure{size = {W, H}}
  local p1, p2 = auto:lines({1, 2}), auto:lines({2, 1})
  T.truthy(p1 ~= p2 and p1:sub(1, #plot.outdir) == plot.outdir, 'automatic names are distinct, in plot.outdir')
  check_png(p2, W, H, 'automatic PNG')
  auto:close()
end)

T.test('large data goes through binary files', function()
  local y = {}
  for i = 1, 200000 do y[i] = math.sin(i / 1000) + (i % 7) / 50 end
  local t0 = os.clock()
  check_png(fig:lines(y, {file = tmp .. '/large.png'}), W, H, 'large')
  T.truthy(os.clock() - t0 < 5, 'large plot took ' .. (os.clock() - t0) .. ' s of Lua time')
end)

T.test('gnuplot errors become Lua errors', function()
  local proc = fig.proc
  local ok, err = pcall(fig.raw, fig, 'plot sin(')
  T.truthy(not ok, 'a bad command raises')
  T.truthy(tostring(err):match('invalid expression'), "the error carries gnuplot's message: " .. tostring(err))
  ok, err = pcall(plot.raw, 'set nosuchoption 3')
  T.truthy(not ok and tostring(err):match('line %d+:'), 'module-level raw raises too: ' .. tostring(err))
  T.truthy(fig.proc == proc, 'the figure keeps its gnuplot after an error')
  check_png(fig:lines({3, 1, 2}, {file = tmp .. '/after_error.png'}), W, H, 'plot after an error')
  T.truthy(fig.proc == proc, 'successive plots reuse one gnuplot process')
  ok, err = pcall(fig.lines, fig, {1, 'x', 3})
  T.truthy(not ok and tostring(err):match('is string, not a number'), 'bad data is named: ' .. tostring(err))
  ok, err = pcall(fig.heatmap, fig, {{1, 2}, {3}})
  T.truthy(not ok and tostring(err):match('not rectangular'), 'ragged matrix refused: ' .. tostring(err))
  ok, err = pcall(fig.lines, fig, {1, 2}, {file = '/proc/no/such/dir/x.png'})
  T.truthy(not ok and tostring(err):match('cannot open file'), 'unwritable output refused: ' .. tostring(err))
  ok, err = pcall(fig.lines, fig, {1, 2}, {file = tmp .. '/x.bmp'})
  T.truthy(not ok and tostring(err):match('cannot tell the terminal'), 'unknown extension refused: ' .. tostring(err))
end)

T.test('a dead gnuplot is noticed, then replaced', function()
  local f2 = plot.figure{size = {W, H}}
  f2:lines({1, 2}, {file = tmp .. '/d1.png'})
  -- Kill it behind the figure's back, as a crash would.
  local pid = read(f2.proc.pidfile):match('%d+')
  os.execute('kill -9 ' .. pid .. '; sleep 0.2')
  local t0 = os.time()
  local ok, err = pcall(f2.raw, f2, 'set xrange [0:1]')
  T.truthy(not ok and tostring(err):match('exited'), 'send to a dead gnuplot raises: ' .. tostring(err))
  T.truthy(os.time() - t0 <= 3, 'no hang on a dead gnuplot')
  check_png(f2:lines({2, 1}, {file = tmp .. '/d2.png'}), W, H, 'plot after gnuplot died')
  f2:close()
end)

T.finally(function()
  fig:close()
  plot.close()
  -- PRIOR_KEEP_PLOTS=1 keeps the outputs for a look.
  if os.getenv('PRIOR_KEEP_PLOTS') then
    io.stderr:write('outputs kept in ', tmp, '\n')
  else
    os.execute("rm -rf '" .. tmp .. "'")
  end
end)
T.run()
