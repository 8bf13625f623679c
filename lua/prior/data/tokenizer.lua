-- prior.data.tokenizer: the BERT WordPiece tokenizer (prior/tokenizer.h) from Lua.
local ffi = require 'ffi'
local capi = require 'prior.capi'
local T = require 'prior.tensor'
local U = require 'prior.data.util'
local C = capi.C

local Tokenizer = {}
Tokenizer.__index = Tokenizer

local CUTS = { reference = 1, keep_sep = 0 }

local function check_self(tok, fname)
  if getmetatable(tok) ~= Tokenizer then
    error(string.format('%s: call it as a method (tok:%s(...))', fname, fname), 3)
  end
  if tok.c == nil then error(string.format('%s: the tokenizer was freed', fname), 3) end
  return tok.c
end

-- Ids of one text with a count-then-fill call pair; `fn` is prior_tokenizer_encode or _tokenize.
local function ids_of(c, fn, text, fname)
  if type(text) ~= 'string' then error(string.format('%s: argument 1 must be a string, got %s', fname, type(text)), 3) end
  local n = ffi.new('int64_t[1]')
  capi.status(fn(c, text, #text, nil, 0, n), 3)
  local count = tonumber(n[0])
  local buf = ffi.new('int32_t[?]', math.max(count, 1))
  capi.status(fn(c, text, #text, buf, count, n), 3)
  local out = {}
  for i = 0, count - 1 do out[i + 1] = buf[i] end
  return out
end

-- tok:encode(text) -> {ids}: [CLS] pieces [SEP], not padded nor cut.
function Tokenizer:encode(text)
  return ids_of(check_self(self, 'encode'), C.prior_tokenizer_encode, text, 'encode')
end

-- tok:tokenize(text) -> {ids}: the word pieces alone.
function Tokenizer:tokenize(text)
  return ids_of(check_self(self, 'tokenize'), C.prior_tokenizer_tokenize, text, 'tokenize')
end

function Tokenizer:vocab_size()
  return tonumber(C.prior_tokenizer_vocab_size(check_self(self, 'vocab_size')))
end

-- tok:token_id(token) -> id, or nil when the token is not in the vocabulary.
function Tokenizer:token_id(token)
  local c = check_self(self, 'token_id')
  if type(token) ~= 'string' then error('token_id: argument 1 must be a string, got ' .. type(token), 2) end
  local id = C.prior_tokenizer_token_id(c, token)
  if id < 0 then return nil end
  return id
end

-- tok:id_token(id) -> the vocabulary entry, or nil when out of range.
function Tokenizer:id_token(id)
  local c = check_self(self, 'id_token')
  if type(id) ~= 'number' then error('id_token: argument 1 must be a number, got ' .. type(id), 2) end
  local s = C.prior_tokenizer_id_token(c, id)
  if s == nil then return nil end
  return ffi.string(s)
end

-- tok:decode(ids) -> the tokens joined by spaces, "##" continuations glued back (for reading, not exact).
function Tokenizer:decode(ids)
  check_self(self, 'decode')
  if T.is_tensor(ids) then ids = ids:totable() end
  if type(ids) ~= 'table' then error('decode: argument 1 must be a table of ids or a tensor, got ' .. type(ids), 2) end
  local words = {}
  for i = 1, #ids do
    local s = self:id_token(ids[i]) or '[?]'
    if s:sub(1, 2) == '##' and #words > 0 then words[#words] = words[#words] .. s:sub(3)
    else words[#words + 1] = s end
  end
  return table.concat(words, ' ')
end

local function i64_tensor(buf, b, l)
  local shape = ffi.new('int64_t[2]', b, l)
  return T.wrap(C.prior_tensor_from_data(buf, 2, shape, 3, C.prior_cpu()), 3)
end

-- tok:encode_reports(reports, {length=256, cut='reference'|'keep_sep'}) -> ids, attention_mask, sentence_index
-- ([B, length] i64 each) and the full token counts (a Lua table). reports: a list of lists of sentences.
function Tokenizer:encode_reports(reports, opts)
  local c = check_self(self, 'encode_reports')
  if type(reports) ~= 'table' then
    error('encode_reports: argument 1 must be a list of reports (lists of sentences), got ' .. type(reports), 2)
  end
  U.check_opts('encode_reports', opts, { length = 'integer', cut = { 'reference', 'keep_sep' } })
  opts = opts or {}
  local length = opts.length or 256
  if length < 2 then error('encode_reports: option length must be >= 2, got ' .. length, 2) end
  local b = #reports
  if b == 0 then error('encode_reports: argument 1 is an empty list', 2) end
  local flat, counts = {}, ffi.new('int64_t[?]', b)
  for i = 1, b do
    local r = reports[i]
    if type(r) == 'string' then r = { r } end
    if type(r) ~= 'table' then
      error(string.format('encode_reports: report %d must be a list of sentences, got %s', i, type(r)), 2)
    end
    for j = 1, #r do
      if type(r[j]) ~= 'string' then
        error(string.format('encode_reports: report %d sentence %d must be a string, got %s', i, j, type(r[j])), 2)
      end
      flat[#flat + 1] = r[j]
    end
    counts[i - 1] = #r
  end
  local ptrs = ffi.new('const char *[?]', math.max(#flat, 1))
  for i = 1, #flat do ptrs[i - 1] = flat[i] end
  local n = b * length
  local ids = ffi.new('int64_t[?]', n)
  local mask = ffi.new('int64_t[?]', n)
  local sidx = ffi.new('int64_t[?]', n)
  local full = ffi.new('int64_t[?]', b)
  capi.status(C.prior_tokenizer_encode_reports(c, ptrs, nil, counts, b, length, CUTS[opts.cut or 'reference'], 8,
                                               ids, mask, sidx, full), 2)
  local full_t = {}
  for i = 0, b - 1 do full_t[i + 1] = tonumber(full[i]) end
  -- `flat` keeps the strings alive until here: ptrs points into them.
  flat = nil
  return i64_tensor(ids, b, length), i64_tensor(mask, b, length), i64_tensor(sidx, b, length), full_t
end

function Tokenizer:free()
  if self.c ~= nil then
    U.release(ffi.gc(self.c, nil))
    self.c = nil
  end
end

Tokenizer.__tostring = function(self)
  if self.c == nil then return 'Tokenizer (freed)' end
  return string.format('Tokenizer (%d entries)', self:vocab_size())
end

local M = {}
M.Tokenizer = Tokenizer

-- prior.data.tokenizer(vocab_path, [{lowercase=true, strip_accents=nil, tokenize_cjk=true, nfc=true,
--                                      max_chars_per_word=100}])
function M.tokenizer(path, opts)
  if type(path) ~= 'string' then error('tokenizer: argument 1 (vocab_path) must be a string, got ' .. type(path), 2) end
  U.check_opts('tokenizer', opts, { lowercase = 'boolean', strip_accents = 'boolean', tokenize_cjk = 'boolean',
                                    nfc = 'boolean', max_chars_per_word = 'integer' })
  opts = opts or {}
  local o = ffi.new('prior_tokenizer_options')
  C.prior_tokenizer_options_default(o)
  if opts.lowercase ~= nil then o.lowercase = opts.lowercase and 1 or 0 end
  if opts.strip_accents ~= nil then o.strip_accents = opts.strip_accents and 1 or 0 end
  if opts.tokenize_cjk ~= nil then o.tokenize_cjk = opts.tokenize_cjk and 1 or 0 end
  if opts.nfc ~= nil then o.nfc = opts.nfc and 1 or 0 end
  if opts.max_chars_per_word then o.max_chars_per_word = opts.max_chars_per_word end
  local p = C.prior_tokenizer_load(path, o)
  if p == nil then capi.fail(2) end
  U.own(p, C.prior_tokenizer_free)
  return setmetatable({ c = ffi.gc(p, U.release), path = path }, Tokenizer)
end

return M
