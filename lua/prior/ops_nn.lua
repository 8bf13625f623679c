-- The op families over layers: linalg, conv, norm, pool, nn, index, loss. Optional arguments come as a
-- keyword table, e.g. prior.conv2d(x, w, b, {stride=2, padding=1}). Functions whose C symbol the runtime
-- library lacks raise "prior_<op> is not available" when called; prior.has_op(name) asks beforehand.
local ffi = require 'ffi'
local capi = require 'prior.capi'
local T = require 'prior.tensor'
local C = capi.C
local wrap, check, opt, cdim = T.wrap, T.check, T.opt, T.cdim

return function(F)
  local def = F.def

  -- A pair option: a number n means {n, n}.
  local function pair(v, default, fname, key)
    if v == nil then v = default end
    if type(v) == 'number' then return v, v end
    if type(v) == 'table' and type(v[1]) == 'number' and type(v[2]) == 'number' then return v[1], v[2] end
    error(string.format('%s: option %s must be a number or a pair {h, w}, got %s', fname, key, tostring(v)), 3)
  end

  local function options(o, fname, argn)
    if o == nil then return {} end
    if type(o) ~= 'table' then T.argerror(fname, argn, '(options) must be a table, got ' .. type(o)) end
    return o
  end

  local REDUCTIONS = { none = 0, mean = 1, sum = 2, batchmean = 1 }
  local function reduction(o, fname, default)
    local r = o.reduction or default or 'mean'
    local v = REDUCTIONS[r]
    if v == nil then
      error(string.format("%s: option reduction must be 'none', 'mean' or 'sum', got %s", fname, tostring(r)), 3)
    end
    return v
  end

  -- ---- linalg -----------------------------------------------------------------------------------------------
  def('matmul', function(a, b) return wrap(C.prior_matmul(check(a, 'matmul', 1), check(b, 'matmul', 2)), 1) end)
  def('bmm', function(a, b) return wrap(C.prior_bmm(check(a, 'bmm', 1), check(b, 'bmm', 2)), 1) end)
  def('linear', function(x, w, b)
    return wrap(C.prior_linear(check(x, 'linear', 1), check(w, 'linear', 2), opt(b, 'linear', 3)), 1)
  end)

  -- ---- conv -------------------------------------------------------------------------------------------------
  -- conv2d(x, weight, [bias], [{stride=1, padding=0, dilation=1, groups=1}])
  def('conv2d', function(x, w, b, o)
    if type(b) == 'table' and not T.is_tensor(b) then b, o = nil, b end
    o = options(o, 'conv2d', 4)
    local sh, sw = pair(o.stride, 1, 'conv2d', 'stride')
    local ph, pw = pair(o.padding, 0, 'conv2d', 'padding')
    local dh, dw = pair(o.dilation, 1, 'conv2d', 'dilation')
    return wrap(C.prior_conv2d(check(x, 'conv2d', 1), check(w, 'conv2d', 2), opt(b, 'conv2d', 3), sh, sw, ph, pw,
                               dh, dw, o.groups or 1), 1)
  end)

  -- ---- norm -------------------------------------------------------------------------------------------------
  -- batch_norm2d(x, running_mean, running_var, [weight], [bias], [{training=false, momentum=0.1, eps=1e-5}]);
  -- batch_norm2d_relu: the same followed by a ReLU, in one pass on the CPU.
  for name, fn in pairs({ batch_norm2d = 'prior_batch_norm2d', batch_norm2d_relu = 'prior_batch_norm2d_relu' }) do
    def(name, function(x, rm, rv, w, b, o)
      o = options(o, name, 6)
      return wrap(C[fn](check(x, name, 1), opt(rm, name, 2), opt(rv, name, 3), opt(w, name, 4), opt(b, name, 5),
                        o.training and 1 or 0, o.momentum or 0.1, o.eps or 1e-5), 1)
    end)
  end
  -- layer_norm(x, normalized_shape, [weight], [bias], [{eps=1e-5}]): normalized_shape is a number or a table
  -- and must match the last dims of x.
  def('layer_norm', function(x, shape, w, b, o)
    local h = check(x, 'layer_norm', 1)
    if type(w) == 'table' and not T.is_tensor(w) then w, o = nil, w end
    o = options(o, 'layer_norm', 5)
    local dims = type(shape) == 'number' and { shape } or shape
    if type(dims) ~= 'table' or #dims == 0 or #dims > h.ndim then
      T.argerror('layer_norm', 2, '(normalized_shape) must be a number or a table of the last dims of x')
    end
    for i = 1, #dims do
      local got = tonumber(h.shape[h.ndim - #dims + i - 1])
      if got ~= dims[i] then
        T.argerror('layer_norm', 2, string.format('(normalized_shape) {%s} does not match the last dims of x %s',
                                                  table.concat(dims, ', '), table.concat(x:size(), 'x')))
      end
    end
    return wrap(C.prior_layer_norm(h, #dims, opt(w, 'layer_norm', 3), opt(b, 'layer_norm', 4), o.eps or 1e-5), 1)
  end)

  -- ---- pool -------------------------------------------------------------------------------------------------
  for _, name in ipairs({ 'max_pool2d', 'avg_pool2d' }) do
    local cname = 'prior_' .. name
    -- max_pool2d(x, kernel, [{stride=kernel, padding=0}])
    def(name, function(x, k, o)
      o = options(o, name, 3)
      local kh, kw = pair(k, nil, name, 'kernel_size')
      local sh, sw = pair(o.stride, { kh, kw }, name, 'stride')
      local ph, pw = pair(o.padding, 0, name, 'padding')
      return wrap(C[cname](check(x, name, 1), kh, kw, sh, sw, ph, pw), 1)
    end)
  end
  def('adaptive_avg_pool2d', function(x, size)
    local oh, ow = pair(size, nil, 'adaptive_avg_pool2d', 'output_size')
    return wrap(C.prior_adaptive_avg_pool2d(check(x, 'adaptive_avg_pool2d', 1), oh, ow), 1)
  end)
  -- interpolate(x, {size={h, w}, mode='nearest'|'bilinear', align_corners=false})
  def('interpolate', function(x, o)
    o = options(o, 'interpolate', 2)
    local oh, ow = pair(o.size, nil, 'interpolate', 'size')
    local modes = { nearest = 0, bilinear = 1 }
    local mode = modes[o.mode or 'nearest']
    if mode == nil then error("interpolate: option mode must be 'nearest' or 'bilinear', got " .. tostring(o.mode), 2) end
    return wrap(C.prior_interpolate(check(x, 'interpolate', 1), oh, ow, mode, o.align_corners and 1 or 0), 1)
  end)
  -- pad(x, {left, right, top, bottom, ...}, [value=0]) as F.pad.
  def('pad', function(x, pads, value)
    local h = check(x, 'pad', 1)
    if type(pads) ~= 'table' or #pads % 2 ~= 0 then T.argerror('pad', 2, '(pads) must be a table of an even length') end
    local n, arr = T.shape_args('pad', pads)
    return wrap(C.prior_pad(h, n, arr, value or 0), 1)
  end)

  -- ---- nn ---------------------------------------------------------------------------------------------------
  def('softmax', function(x, dim)
    local h = check(x, 'softmax', 1)
    return wrap(C.prior_softmax(h, cdim(dim or -1, h.ndim, 'softmax', 2)), 1)
  end)
  def('log_softmax', function(x, dim)
    local h = check(x, 'log_softmax', 1)
    return wrap(C.prior_log_softmax(h, cdim(dim or -1, h.ndim, 'log_softmax', 2)), 1)
  end)
  def('dropout', function(x, p, training)
    if training == nil then training = true end
    return wrap(C.prior_dropout(check(x, 'dropout', 1), p or 0.5, training and 1 or 0), 1)
  end)
  def('dropout2d', function(x, p, training)
    if training == nil then training = true end
    return wrap(C.prior_dropout2d(check(x, 'dropout2d', 1), p or 0.5, training and 1 or 0), 1)
  end)
  -- embedding(weight, indices, [{padding_idx=...}]): indices hold 0-based row numbers (token ids).
  def('embedding', function(w, idx, o)
    o = options(o, 'embedding', 3)
    return wrap(C.prior_embedding(check(w, 'embedding', 1), check(idx, 'embedding', 2), o.padding_idx or -1), 1)
  end)
  -- normalize(x, [{dim=2, eps=1e-12}]) (PyTorch's dim=1 default, 1-based here)
  def('normalize', function(x, o)
    local h = check(x, 'normalize', 1)
    o = options(o, 'normalize', 2)
    return wrap(C.prior_normalize(h, cdim(o.dim or 2, h.ndim, 'normalize', 'dim'), o.eps or 1e-12), 1)
  end)
  def('cosine_similarity', function(a, b, o)
    local h = check(a, 'cosine_similarity', 1)
    o = options(o, 'cosine_similarity', 3)
    return wrap(C.prior_cosine_similarity(h, check(b, 'cosine_similarity', 2),
                                          cdim(o.dim or 2, h.ndim, 'cosine_similarity', 'dim'), o.eps or 1e-8), 1)
  end)

  -- ---- index ------------------------------------------------------------------------------------------------
  local function tensor_list(fname, xs)
    if type(xs) ~= 'table' or #xs == 0 then T.argerror(fname, 1, 'must be a non-empty table of tensors') end
    local arr = ffi.new('prior_tensor *[?]', #xs)
    for i, x in ipairs(xs) do
      if not T.is_tensor(x) then T.argerror(fname, 1, string.format('entry %d is a %s, not a tensor', i, type(x))) end
      arr[i - 1] = check(x, fname, '1[' .. i .. ']')
    end
    return #xs, arr
  end
  def('cat', function(xs, dim)
    local n, arr = tensor_list('cat', xs)
    return wrap(C.prior_cat(n, arr, cdim(dim or 1, arr[0].ndim, 'cat', 2)), 1)
  end, false)
  def('stack', function(xs, dim)
    local n, arr = tensor_list('stack', xs)
    return wrap(C.prior_stack(n, arr, cdim(dim or 1, arr[0].ndim, 'stack', 2, 1)), 1)
  end, false)
  local function pieces(fname, cfn, x, amount, dim)
    local h = check(x, fname, 1)
    if type(amount) ~= 'number' or amount < 1 then T.argerror(fname, 2, 'must be a positive integer') end
    local d = cdim(dim or 1, h.ndim, fname, 3)
    local size = tonumber(h.shape[d])
    local max_out = math.max(fname == 'split' and math.ceil(size / amount) or amount, 1)
    local out = ffi.new('prior_tensor *[?]', max_out)
    local n = cfn(h, amount, d, out, max_out)
    if n < 0 then capi.fail(2) end
    local r = {}
    for i = 0, n - 1 do r[i + 1] = wrap(out[i], 2) end
    return r
  end
  -- split(x, size, [dim=1]) -> table of views; chunk(x, n, [dim=1]) -> table of views.
  def('split', function(x, size, dim) return pieces('split', C.prior_split, x, size, dim) end)
  def('chunk', function(x, n, dim) return pieces('chunk', C.prior_chunk, x, n, dim) end)
  def('index_select', function(x, dim, index)
    local h = check(x, 'index_select', 1)
    return wrap(C.prior_index_select(h, cdim(dim, h.ndim, 'index_select', 2), check(index, 'index_select', 3)), 1)
  end)
  def('gather', function(x, dim, index)
    local h = check(x, 'gather', 1)
    return wrap(C.prior_gather(h, cdim(dim, h.ndim, 'gather', 2), check(index, 'gather', 3)), 1)
  end)
  def('scatter_add', function(x, dim, index, src)
    local h = check(x, 'scatter_add', 1)
    return wrap(C.prior_scatter_add(h, cdim(dim, h.ndim, 'scatter_add', 2), check(index, 'scatter_add', 3),
                                    check(src, 'scatter_add', 4)), 1)
  end)
  def('masked_fill', function(x, mask, value)
    if type(value) ~= 'number' then T.argerror('masked_fill', 3, '(value) must be a number') end
    return wrap(C.prior_masked_fill(check(x, 'masked_fill', 1), check(mask, 'masked_fill', 2), value), 1)
  end)

  -- ---- loss -------------------------------------------------------------------------------------------------
  -- cross_entropy(logits, target, [{reduction='mean', ignore_index=-100, label_smoothing=0}]); target holds
  -- 0-based class indices.
  def('cross_entropy', function(logits, target, o)
    o = options(o, 'cross_entropy', 3)
    return wrap(C.prior_cross_entropy(check(logits, 'cross_entropy', 1), check(target, 'cross_entropy', 2),
                                      reduction(o, 'cross_entropy'), o.ignore_index or -100,
                                      o.label_smoothing or 0), 1)
  end)
  def('bce_with_logits', function(logits, target, o)
    o = options(o, 'bce_with_logits', 3)
    return wrap(C.prior_bce_with_logits(check(logits, 'bce_with_logits', 1), check(target, 'bce_with_logits', 2),
                                        opt(o.pos_weight, 'bce_with_logits', 'pos_weight'),
                                        reduction(o, 'bce_with_logits')), 1)
  end)
  for _, name in ipairs({ 'l1_loss', 'mse_loss' }) do
    local cname = 'prior_' .. name
    def(name, function(input, target, o)
      o = options(o, name, 3)
      return wrap(C[cname](check(input, name, 1), check(target, name, 2), reduction(o, name)), 1)
    end)
  end
  def('smooth_l1_loss', function(input, target, o)
    o = options(o, 'smooth_l1_loss', 3)
    return wrap(C.prior_smooth_l1_loss(check(input, 'smooth_l1_loss', 1), check(target, 'smooth_l1_loss', 2),
                                       reduction(o, 'smooth_l1_loss'), o.beta or 1.0), 1)
  end)
  -- kl_div(input, target, [{reduction='batchmean', log_target=false}]): 'mean' here is PyTorch's batchmean.
  def('kl_div', function(input, target, o)
    o = options(o, 'kl_div', 3)
    return wrap(C.prior_kl_div(check(input, 'kl_div', 1), check(target, 'kl_div', 2),
                               reduction(o, 'kl_div', 'batchmean'), o.log_target and 1 or 0), 1)
  end)
end
