-- Writes the built-in synthetic set the tiny preset trains on (MIMIC-CXR-JPG and CheXpert trees and the WordPiece
-- vocabulary), or the RSNA and SIIM trees too with --all. Already complete trees are left as they are.
--
--   prior scripts/make_synthetic.lua [--data DIR] [--config tiny|paper|FILE.lua] [--image-size N] [--all] [--force]
local prior = require 'prior'
local cli = require 'prior.cli'

local opts = cli.parse('make_synthetic', { data = 'data/synthetic', config = 'tiny', ['image-size'] = false },
                      { 'all', 'force' }, cli.header(arg[0]))
local cfg = cli.config(opts.config)
local d = cfg.data
local trees = opts.all and { 'mimic', 'chexpert', 'rsna', 'siim' } or { 'mimic', 'chexpert' }
local paths = prior.data.synthetic{ root = opts.data, seed = d.seed or 0, image_size = opts['image-size'] or d.image_size,
                                    mimic_subjects = d.mimic_subjects, chexpert_patients = d.chexpert_patients,
                                    per_class = d.per_class, trees = trees, force = opts.force }
for _, k in ipairs({ 'mimic', 'chexpert', 'rsna', 'siim', 'vocab' }) do
  if paths[k] then print(string.format('%-8s %s', k, paths[k])) end
end
