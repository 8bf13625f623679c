-- Loss curves of a pre-training run: one panel per loss term of its log.jsonl (scripts/pretrain.lua writes one
-- record per step), against the global step, with the stage boundaries marked by dashed lines.
local V = dofile((arg[0]:match('^(.*)/') or '.') .. '/common.lua')
local plot = require 'prior.plot'

local USAGE = [[
prior viz/curves.lua --ckpt PATH [--log PATH] --out DIR
  Loss curves of a run, one panel per loss term, stage boundaries marked. The log is --log, or the
  log.jsonl beside --ckpt (a run folder of scripts/pretrain.lua). --data is accepted and not needed.
  --name NAME    output file name without extension (default curves)
  --cols N       panels per row (default 3)]]

local opts = V.args('curves', USAGE, {log = '', name = 'curves', cols = 3})
local log = opts.log ~= '' and opts.log or (opts.ckpt and ((opts.ckpt:match('^(.*)/') or '.') .. '/log.jsonl'))
if not log then error('curves: give --log PATH or --ckpt PATH of a run folder (see --help)', 0) end
if not V.exists(log) then error('curves: no log at ' .. log, 0) end
os.execute("mkdir -p '" .. opts.out .. "'")

-- The loss terms present in the log, in the model's order (other numeric fields are not losses).
local records = plot.read_jsonl(log)
local TERMS = {'total', 'global', 'local_image', 'local_text', 'proto', 'rec_image', 'spg', 'kl', 'gpa'}
local keys = {}
for _, k in ipairs(TERMS) do
  for _, r in ipairs(records) do
    if type(r[k]) == 'number' then keys[#keys + 1] = k break end
  end
end
if #keys == 0 then error('curves: ' .. log .. ' has no loss terms (' .. table.concat(TERMS, ', ') .. ')', 0) end
local cols = math.min(opts.cols, #keys)
local rows = math.ceil(#keys / cols)
V.save({opts = opts}, opts.name, nil, function(fig, file)
  fig:curves(log, {keys = keys, cols = cols, file = file, size = {420 * cols, 300 * rows},
                   title = 'Pre-training losses (' .. #records .. ' steps; dashed: stage boundaries)'})
end)
