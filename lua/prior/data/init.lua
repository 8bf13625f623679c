-- prior.data: the data pipeline from Lua — synthetic trees, the tokenizer, the dataset readers and the loader.
local dataset = require 'prior.data.dataset'
local tokenizer = require 'prior.data.tokenizer'
local loader = require 'prior.data.loader'

local M = {}
M.synthetic = require 'prior.data.synthetic'
M.tokenizer = tokenizer.tokenizer
M.mimic = dataset.mimic
M.chexpert = dataset.chexpert
M.chexpert5x200 = dataset.chexpert5x200
M.rsna = dataset.rsna
M.siim = dataset.siim
M.is_dataset = dataset.is_dataset
M.loader = loader.loader
return M
