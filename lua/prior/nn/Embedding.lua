-- A lookup table (PyTorch's nn.Embedding): weight [num_embeddings, dim] ~ N(0, 1); indices are 0-based ids.
local prior = require 'prior'
local Embedding = require('prior.nn.Module'):extend('Embedding')

-- Embedding(num_embeddings, embedding_dim, [{padding_idx=nil}]): the padding row starts at zero and gets no
-- gradient.
function Embedding:__init(n, dim, opts)
  opts = opts or {}
  if type(n) ~= 'number' or type(dim) ~= 'number' then
    error('Embedding: arguments 1 and 2 (num_embeddings, embedding_dim) must be numbers', 3)
  end
  self.num_embeddings, self.embedding_dim, self.padding_idx = n, dim, opts.padding_idx
  local w = prior.randn({ n, dim })
  if opts.padding_idx then w[opts.padding_idx + 1] = 0 end
  self.weight = w:requires_grad(true)
end

function Embedding:forward(indices)
  return prior.embedding(self.weight, indices, { padding_idx = self.padding_idx })
end

function Embedding:extra_repr()
  return string.format('%d, %d%s', self.num_embeddings, self.embedding_dim,
                       self.padding_idx and (', padding_idx=' .. self.padding_idx) or '')
end

return Embedding
