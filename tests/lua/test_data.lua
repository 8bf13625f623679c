-- prior.data from Lua: a tiny synthetic set in a temporary folder, every reader, the tokenizer on every report,
-- the 5x200 selection, loader epochs (shapes, dtypes, determinism), lifetimes and argument errors.
local T = require 'prior.testing'
local data = prior.data

local tmp = os.tmpname()
os.remove(tmp)
os.execute("mkdir -p '" .. tmp .. "'")
T.finally(function() os.execute("rm -rf '" .. tmp .. "'") end)

local SYN = { root = tmp .. '/syn', seed = 3, image_size = 64, mimic_subjects = 16, chexpert_patients = 8,
              chexpert_valid_patients = 2, per_class = 3, rsna_images = 8, siim_images = 8,
              trees = { 'mimic', 'chexpert', 'rsna', 'siim' } }
local paths

local function read(path)
  local f = io.open(path, 'rb')
  if not f then return nil end
  local s = f:read('*a')
  f:close()
  return s
end

T.test('synthetic writes the trees and the vocabulary once', function()
  paths = data.synthetic(SYN)
  T.eq(paths.root, SYN.root)
  T.eq(paths.vocab, SYN.root .. '/vocab.txt')
  T.truthy(read(paths.mimic .. '/mimic-cxr-2.0.0-metadata.csv'), 'metadata csv')
  T.truthy(read(paths.chexpert .. '/CheXpert-v1.0-small/train.csv'), 'chexpert train.csv')
  T.truthy(read(paths.rsna .. '/stage_2_train_labels.csv'), 'rsna labels')
  T.truthy(read(paths.siim .. '/train-rle.csv'), 'siim rle')
  T.truthy(read(paths.vocab):find('[CLS]', 1, true), 'vocab has [CLS]')
  -- A second call finds the markers and writes nothing: a file removed behind its back stays removed.
  local csv = paths.rsna .. '/stage_2_train_labels.csv'
  local before = read(csv)
  os.remove(csv)
  data.synthetic(SYN)
  T.eq(read(csv), nil, 'complete trees are not regenerated')
  -- An interrupted tree (no marker) is generated again, byte for byte.
  os.remove(paths.rsna .. '/.prior-synthetic-complete')
  data.synthetic(SYN)
  T.eq(read(csv), before, 'a tree without its marker is regenerated identically')
  -- Other settings over an existing tree are an error unless forced.
  local other = {}
  for k, v in pairs(SYN) do other[k] = v end
  other.rsna_images, other.trees = 5, { 'rsna' }
  T.raises(function() data.synthetic(other) end, 'was generated with other settings')
end)

T.test('synthetic checks its arguments', function()
  T.raises(function() data.synthetic() end, 'synthetic: argument 1 must be an options table')
  T.raises(function() data.synthetic{} end, 'synthetic: option root is required')
  T.raises(function() data.synthetic{root = tmp, image_size = 'big'} end, 'option image_size must be an integer')
  T.raises(function() data.synthetic{root = tmp, image_size = 8} end, 'image_size must be in 32..2048')
  T.raises(function() data.synthetic{root = tmp, trees = {'mimic', 'xray'}} end, 'option trees[2] must be')
  T.raises(function() data.synthetic{root = tmp, colour = true} end, "synthetic: unknown option 'colour'")
end)

T.test('mimic: samples, drops, labels', function()
  local ds = data.mimic{root = paths.mimic}
  T.truthy(#ds > 10, 'studies: ' .. #ds)
  T.eq(ds:size(), #ds)
  T.eq(ds:kind(), 'mimic')
  local names = ds:label_names()
  T.eq(#names, 14)
  T.eq(names[2], 'Cardiomegaly')
  local d = ds:drops()
  T.truthy(d.lateral > 0, 'laterals are counted')
  T.truthy(data.format_drops(d):find('lateral ' .. d.lateral, 1, true), data.format_drops(d))
  T.eq(type(d.short_report), 'number')
  local s = ds:sample(1)
  T.truthy(s.id:match('^s%d+$'), s.id)
  T.truthy(#s.image_paths >= 1 and read(s.image_paths[1]), 'image on disk')
  T.truthy(#s.sentences >= 4, 'at least 4 sentences')
  T.eq(type(s.labels.Cardiomegaly), 'number')
  T.eq(#s.label_values, 14)
  T.eq(ds:find(s.id), 1)
  T.eq(ds:find('nope'), nil)
  local lab = ds:labels()
  T.eq(table.concat(lab:size(), 'x'), #ds .. 'x14')
  -- Splits: train + validate + test is the whole set.
  local n = 0
  for _, split in ipairs({ 'train', 'validate', 'test' }) do n = n + #data.mimic{root = paths.mimic, split = split} end
  T.eq(n, #ds)
  local sub = ds:subset({ 3, 1 })
  T.eq(#sub, 2)
  T.eq(sub:sample(2).id, s.id)
  T.raises(function() ds:sample(0) end, 'sample: sample 0 is out of range 1..')
  T.raises(function() ds:sample(#ds + 1) end, 'out of range')
  T.raises(function() ds.sample(5) end, 'sample: argument 1 must be a dataset')
end)

T.test('dataset errors name the argument or carry the C message', function()
  T.raises(function() data.mimic{root = tmp .. '/missing'} end, tmp .. '/missing')
  T.raises(function() data.mimic{} end, 'mimic: option root is required')
  T.raises(function() data.mimic{root = 5} end, 'mimic: option root must be a string, got number')
  T.raises(function() data.mimic{root = paths.mimic, split = 'val'} end, "option split must be one of 'train'")
  T.raises(function() data.mimic(paths.mimic) end, 'mimic: argument 1 must be an options table')
  T.raises(function() data.chexpert{root = paths.chexpert, frontal_only = 1} end, 'frontal_only must be a boolean')
  T.raises(function() data.rsna{root = tmp} end, 'stage_2_train_labels.csv')
end)

T.test('chexpert, rsna and siim open with their extras', function()
  local cx = data.chexpert{root = paths.chexpert}
  T.truthy(#cx > 0)
  T.eq(cx:label_names()[1], 'No Finding')
  local valid = data.chexpert{root = paths.chexpert, split = 'valid'}
  T.truthy(#valid > 0)
  local r = data.rsna{root = paths.rsna}
  T.eq(#r, SYN.rsna_images)
  T.eq(r:image_format(), 'dicom')
  local boxes = 0
  for i = 1, #r do
    local s = r:sample(i)
    if s.boxes then
      boxes = boxes + #s.boxes
      T.eq(s.labels[r:label_names()[1]], 1, 'a sample with boxes is positive')
      for _, v in ipairs(s.boxes[1]) do T.truthy(v >= 0 and v <= 1, 'box fractions') end
    end
  end
  local sm = data.siim{root = paths.siim}
  T.eq(#sm, SYN.siim_images)
  T.truthy(sm:has_masks())
  local positives = 0
  for i = 1, #sm do
    local s = sm:sample(i)
    if s.rles and #s.rles > 0 then
      positives = positives + 1
      local m = sm:mask(i, 64, 64)
      T.eq(m:dtype(), 'u8')
      T.truthy(m:sum():item() > 0, 'a positive sample has mask pixels')
    end
  end
  T.truthy(positives > 0, 'some pneumothorax masks')
  -- Split files: written once, then the same selection.
  local split = tmp .. '/siim_split.csv'
  local tr = sm:split(split, 'train', { val = 0.25, test = 0.25 })
  local va = sm:split(split, 'val')
  T.eq(#tr + #va + #sm:split(split, 'test'), #sm)
end)

T.test('the tokenizer encodes every report without [UNK]', function()
  local tok = data.tokenizer(paths.vocab)
  T.truthy(tok:vocab_size() > 100)
  T.eq(tok:token_id('[CLS]'), 101)
  T.eq(tok:id_token(102), '[SEP]')
  T.eq(tok:token_id('no-such-token'), nil)
  local ids = tok:encode('No pneumothorax.')
  T.eq(ids[1], 101)
  T.eq(ids[#ids], 102)
  T.eq(tok:decode(tok:tokenize('No pneumothorax.')), 'no pneumothorax .')
  local ds = data.mimic{root = paths.mimic}
  local reports = {}
  for i = 1, #ds do
    local s = ds:sample(i)
    for _, sentence in ipairs(s.sentences) do
      for _, id in ipairs(tok:tokenize(sentence)) do
        if id == 100 then error('[UNK] in "' .. sentence .. '"') end
      end
    end
    reports[i] = s.sentences
  end
  local L = 48
  local ids_t, mask, sidx, full = tok:encode_reports(reports, { length = L })
  T.eq(table.concat(ids_t:size(), 'x'), #ds .. 'x' .. L)
  T.eq(ids_t:dtype(), 'i64')
  T.eq(mask:dtype(), 'i64')
  T.eq(sidx:dtype(), 'i64')
  T.eq(#full, #ds)
  local row = ids_t:totable()[1]
  T.eq(row[1], 101)
  T.eq(sidx:totable()[1][1], -1)
  T.eq(sidx:totable()[1][2], 1)
  -- keep_sep ends an over-long row with [SEP]; reference does not.
  local short = tok:encode_reports({ reports[1] }, { length = 4, cut = 'keep_sep' })
  T.eq(short:totable()[1][4], 102)
  local ref = tok:encode_reports({ reports[1] }, { length = 4 })
  T.truthy(ref:totable()[1][4] ~= 102)
  T.raises(function() tok:encode_reports(reports, { length = 1 }) end, 'option length must be >= 2')
  T.raises(function() tok:encode_reports(reports, { cut = 'middle' }) end, "option cut must be one of")
  T.raises(function() tok:encode_reports({ { 'a', 5 } }) end, 'report 1 sentence 2 must be a string')
  T.raises(function() tok:encode(5) end, 'encode: argument 1 must be a string')
  T.raises(function() data.tokenizer(tmp .. '/none.txt') end, tmp .. '/none.txt')
  T.raises(function() data.tokenizer(paths.vocab, { lowercase = 'yes' }) end, 'option lowercase must be a boolean')
  tok:free()
  T.raises(function() tok:encode('x') end, 'the tokenizer was freed')
end)

T.test('chexpert5x200: built once, read back, one class per sample', function()
  local file = tmp .. '/5x200.csv'
  local ds, classes, index = data.chexpert5x200{root = paths.chexpert, file = file, per_class = 2, seed = 1}
  T.eq(table.concat(classes, ','), 'Atelectasis,Cardiomegaly,Consolidation,Edema,Pleural Effusion')
  T.eq(#ds, 10)
  T.eq(#index, 10)
  local per = {}
  for i = 1, #ds do
    per[index[i]] = (per[index[i]] or 0) + 1
    local s = ds:sample(i)
    T.eq(s.class, index[i])
    T.eq(s.class_name, classes[index[i] + 1])
  end
  for k = 0, 4 do T.eq(per[k], 2, 'class ' .. k) end
  T.truthy(read(file), 'selection written')
  local again, _, index2 = data.chexpert5x200{root = paths.chexpert, file = file}
  T.eq(#again, 10)
  T.eq(table.concat(index2, ','), table.concat(index, ','))
  for i = 1, #ds do T.eq(again:sample(i).id, ds:sample(i).id) end
  T.raises(function() data.chexpert5x200{root = paths.chexpert, file = file, per_class = 3} end,
           'holds 10 samples, not 5 x 3')
  T.raises(function() data.chexpert5x200{root = paths.chexpert, file = tmp .. '/big.csv', per_class = 50} end,
           'Atelectasis')
end)

local function first_batch(ds, tok, opts)
  local l = data.loader(ds, opts)
  local b = l:epoch(0)()
  local out = { images = b.images:totable(), ids = b.input_ids:totable(), idx = b.sample_indices:totable() }
  l:free()
  return out
end

T.test('loader: an epoch of batches with the right shapes and dtypes', function()
  local ds = data.mimic{root = paths.mimic}
  local tok = data.tokenizer(paths.vocab)
  local l = data.loader(ds, { batch_size = 4, image_size = 64, workers = 2, tokenizer = tok, max_length = 32,
                              seed = 7 })
  local n = l:batches_per_epoch()
  T.eq(n, math.floor(#ds / 4))
  local count, seen, last_c = 0, {}, nil
  for b in l:epoch(1) do
    count = count + 1
    T.eq(b.size, 4)
    T.eq(b.index, count)
    T.eq(table.concat(b.images:size(), 'x'), '4x1x64x64')
    T.eq(b.images:dtype(), 'f32')
    T.eq(table.concat(b.input_ids:size(), 'x'), '4x32')
    T.eq(b.input_ids:dtype(), 'i64')
    T.eq(b.attention_mask:dtype(), 'i64')
    T.eq(table.concat(b.sentence_index:size(), 'x'), '4x32')
    T.eq(table.concat(b.labels:size(), 'x'), '4x14')
    T.eq(b.sample_indices:dtype(), 'i64')
    T.truthy(b.c ~= nil and tonumber(b.c.size) == 4, 'the C batch is reachable')
    for _, k in ipairs(b.sample_indices:totable()) do
      T.truthy(not seen[k], 'sample ' .. k .. ' appears once per epoch')
      seen[k] = true
    end
    last_c = b
  end
  T.eq(count, n)
  -- The wrapped tensors outlive the C batch.
  T.eq(last_c.images:size(1), 4)
  local st = l:stats()
  T.eq(st.batches, n)
  T.eq(st.skipped, 0)
  T.eq(type(st.stall_seconds), 'number')
  T.truthy(st.summary:find('loader: ', 1, true), st.summary)
  T.eq(tostring(st), st.summary)
  local mb = l:make_batch({ 1, 2 })
  T.eq(mb.size, 2)
  T.eq(table.concat(mb.sample_indices:totable(), ','), '0,1')
  -- Freeing the dataset and tokenizer handles does not free what the workers read.
  ds:free()
  tok:free()
  T.raises(function() ds:sample(1) end, 'the dataset was freed')
  local again = 0
  for b in l:epoch(2) do again = again + 1; T.eq(b.input_ids:size(2), 32) end
  T.eq(again, n)
  T.eq(l:make_batch({ 2 }).size, 1)
  l:free()
  T.raises(function() l:epoch(0) end, 'the loader was freed')
end)

T.test('loaders, datasets and tokenizers dropped together mid-epoch are collected safely', function()
  local util = require 'prior.data.util'
  collectgarbage()
  collectgarbage()
  local before = util.live()
  local function round(r)
    local ds = data.mimic{root = paths.mimic}
    local tok = data.tokenizer(paths.vocab)
    local l = data.loader(ds, { batch_size = 2, image_size = 32, workers = 2, prefetch = 4, tokenizer = tok })
    local it = l:epoch(r)
    T.eq(it().size, 2)
  end
  for r = 1, 4 do round(r) end
  collectgarbage()
  collectgarbage()
  T.eq(util.live(), before, 'every dataset and tokenizer was freed')
end)

T.test('loader: same seed, same first batch, whatever the workers', function()
  local ds = data.mimic{root = paths.mimic}
  local tok = data.tokenizer(paths.vocab)
  local a = first_batch(ds, tok, { batch_size = 3, image_size = 32, workers = 2, tokenizer = tok, seed = 5,
                                   max_length = 24 })
  local b = first_batch(ds, tok, { batch_size = 3, image_size = 32, workers = 0, tokenizer = tok, seed = 5,
                                   max_length = 24 })
  local c = first_batch(ds, tok, { batch_size = 3, image_size = 32, workers = 1, tokenizer = tok, seed = 6,
                                   max_length = 24 })
  T.eq(table.concat(a.idx, ','), table.concat(b.idx, ','))
  T.all_near(a.images, b.images, 0)
  T.all_near(a.ids, b.ids, 0)
  T.truthy(table.concat(a.idx, ',') ~= table.concat(c.idx, ',') or a.images[1][1][1][1] ~= c.images[1][1][1][1],
           'another seed gives another batch')
end)

T.test('loader: shards split each global batch, in order, with the same draws', function()
  local ds = data.mimic{root = paths.mimic}
  local tok = data.tokenizer(paths.vocab)
  local function loader(opts)
    local o = { batch_size = 3, image_size = 32, workers = 1, tokenizer = tok, seed = 5, max_length = 24 }
    for k, v in pairs(opts) do o[k] = v end
    return data.loader(ds, o)
  end
  local whole = loader({ batch_size = 6 })
  local parts = { loader({ shards = 2, shard = 0 }), loader({ shards = 2, shard = 1 }) }
  T.eq(parts[1]:batches_per_epoch(), whole:batches_per_epoch())
  T.eq(parts[2]:batches_per_epoch(), math.floor(#ds / 6))
  local w_next, p_next = whole:epoch(1), { parts[1]:epoch(1), parts[2]:epoch(1) }
  for _ = 1, 2 do
    local w = w_next()
    local idx, images = w.sample_indices:totable(), w.images
    for s = 1, 2 do
      local p = p_next[s]()
      T.eq(table.concat(p.sample_indices:totable(), ','), table.concat({ unpack(idx, 3 * s - 2, 3 * s) }, ','),
           'shard ' .. (s - 1) .. ' has its rows of the global batch')
      T.all_near(p.images, images:narrow(1, 3 * s - 2, 3), 0, 'the same augmentation draws')
    end
  end
  for _, l in ipairs({ whole, parts[1], parts[2] }) do l:free() end
  T.raises(function() loader({ shards = 2, shard = 2 }) end, 'shard 2 of 2')
  T.raises(function() loader({ shards = 2, shard = 0, drop_last = false }) end, 'need drop_last')
end)

T.test('loader: masks and boxes, and argument errors', function()
  local sm = data.siim{root = paths.siim}
  local l = data.loader(sm, { batch_size = 2, image_size = 32, workers = 0, augment = false, shuffle = false })
  local b = l:epoch(0)()
  T.eq(table.concat(b.masks:size(), 'x'), '2x1x32x32')
  l:free()
  local r = data.rsna{root = paths.rsna}
  l = data.loader(r, { batch_size = 8, image_size = 32, workers = 0, drop_last = false })
  b = l:epoch(0)()
  T.eq(b.box_counts:size(1), 8)
  l = nil
  collectgarbage()
  local ds = data.mimic{root = paths.mimic}
  T.raises(function() data.loader({}) end, 'loader: argument 1 must be a dataset')
  T.raises(function() data.loader(ds, { batch_size = 0 }) end, 'loader: option batch_size must be >= 1')
  T.raises(function() data.loader(ds, { batch_size = 2.5 }) end, 'option batch_size must be an integer')
  T.raises(function() data.loader(ds, { shuffle = 1 }) end, 'option shuffle must be a boolean')
  T.raises(function() data.loader(ds, { tokenizer = {} }) end, 'option tokenizer must be a tokenizer')
  T.raises(function() data.loader(ds, { batchsize = 2 }) end, "loader: unknown option 'batchsize'")
  local l2 = data.loader(ds, { batch_size = 2, image_size = 32, workers = 0 })
  T.raises(function() l2:epoch(-1) end, 'epoch: argument 1 must be an integer >= 0')
  T.raises(function() l2:make_batch({ 0 }) end, 'make_batch: position 1 is 0')
  l2:free()
end)

T.run()
