"""One way from a model config (as in a study file) to an ``nn.Module``."""
from __future__ import annotations

from ._registry import create_model


def build_model(model_cfg: dict, in_shape, num_classes: int, seed: int | None = None):
    """The model a run config describes: ``{"name": ..., **arguments}``, initialised from ``seed``.

    With ``seed`` the initial weights depend on the seed alone (torch's generator is seeded
    right before the model is built), as in every training run of that seed.
    """
    import torch

    if seed is not None:
        torch.manual_seed(seed)
    kwargs = {k: v for k, v in model_cfg.items() if k != "name"}
    return create_model(model_cfg["name"], in_shape=tuple(in_shape), num_classes=num_classes, **kwargs)
