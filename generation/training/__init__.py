"""Training and sampling of the bundled models (pure PyTorch, no Django).

``options`` (TrainOptions, FAMILY_DEFAULTS), ``device``, ``checkpoints``, ``trainers`` (one per family),
``loop.run_training`` (progress/abort callbacks, resume) and ``sampling`` (Sampler, Pipeline). Import the
submodules directly; this package imports nothing heavy so Django code can reference it cheaply.
"""
