-- The paper preset: ResNet50 on one channel at 224 x 224, BioClinicalBERT sizes (vocab 28996; its vocab.txt must be
-- given with --vocab), 512 prototypes, 16 queries, 6 decoder layers, and the seed's schedule: 100 epochs (20/30/50),
-- batch 128, Adam lr 1e-5, weight decay 1e-6, one warm-up epoch then cosine per stage.
return {
  preset = 'paper',
  model = {
    resnet_blocks = { 3, 4, 6, 3 }, resnet_width = 64, in_channels = 1, image_size = 224,
    vocab_size = 28996, hidden = 768, layers = 12, heads = 12, intermediate = 3072, max_positions = 512,
    hidden_dropout = 0.1, attention_dropout = 0.1,
    pool_heads = 8, num_prototypes = 512, num_queries = 16, decoder_layers = 6,
    sentence_pool = 'avg', -- or 'max', 'min', 'attention' (see tiny.lua)
  },
  data = { seed = 0, image_size = 224, max_length = 256, batch_size = 128, workers = 8, augment = true },
  train = {
    optimizer = 'adam', lr = 1e-5, min_lr = 0, weight_decay = 1e-6, warmup_epochs = 1,
    stages = { { epochs = 20 }, { epochs = 30 }, { epochs = 50 } },
    tau_start = 0.9, tau_end = 0.01, tau_schedule = 'exp',
    autocast = false, -- true: bf16 matmuls and convolutions with f32 weights (prior.autocast; also --autocast)
    checkpoint_every = 1000, log_every = 50,
  },
  eval = { prompts = '%s is observed', local_weight = 0.5, retrieval_k = { 1, 5, 10 }, use_spb = true, tau = 0.01 },
}
