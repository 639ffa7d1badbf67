"""Training engine: tensor batches, the LightningModule, evaluations and ``train(cfg)``."""
