"""timm ResNets by name, optionally narrowed for CPUs, optionally with pretrained weights.

``timm_resnet(arch="resnet18", pretrained=True)`` is timm's ImageNet ResNet-18 with its
classifier replaced for ``num_classes`` and its first convolution adapted to the input's
channels (timm sums the RGB filters for one-channel images). ``weights_file`` loads the
pretrained weights from a local file instead of the Hugging Face hub, through the same timm
path (``pretrained_cfg_overlay=dict(file=...)``), so a machine without network access runs the
full scale from a downloaded copy. ``channels``/``stem_width`` shrink the stages (timm's
``ResNet`` arguments) for the embedded scale; a narrowed net can only load weights of the same
shape, e.g. those of a pretraining run of the workflow.

The model returned is timm's own ``nn.Module``, so its state dict keys are timm's and a
state dict saved by a run loads back through timm.
"""
from __future__ import annotations

from pathlib import Path

from ._registry import register_model


def _hub_hint(arch: str) -> str:
    import timm

    cfg = timm.models.get_pretrained_cfg(arch)
    hub = getattr(cfg, "hf_hub_id", None) if cfg is not None else None
    where = f"the Hugging Face hub ({hub})" if hub else "its timm source"
    return (f"timm could not load pretrained weights for {arch!r} from {where}; offline, download them "
            f"elsewhere (e.g. `timm.create_model({arch!r}, pretrained=True)` fills the hub cache, or save "
            f"its state_dict with torch.save) and pass the file as model.weights_file")


@register_model(tiny={"arch": "resnet10t", "channels": [4, 8, 16, 32], "stem_width": 4})
def timm_resnet(in_shape=(3, 224, 224), num_classes: int = 1000, arch: str = "resnet18", pretrained: bool = False,
                weights_file: str | None = None, channels: list[int] | None = None, stem_width: int | None = None,
                drop_rate: float = 0.0):
    """A timm ResNet (``arch``: resnet10t, resnet18, resnet34, resnet50, ...); ``pretrained`` loads
    timm's weights (from ``weights_file`` when given, else the hub); ``channels``/``stem_width`` narrow it."""
    import timm

    if len(in_shape) != 3:
        raise ValueError(f"timm_resnet takes (C, H, W) images, got in_shape={tuple(in_shape)}")
    if not arch.startswith("resnet") or arch not in timm.list_models("resnet*"):
        raise ValueError(f"arch must be a timm ResNet (timm.list_models('resnet*')), got {arch!r}")
    if weights_file is not None and not pretrained:
        raise ValueError("weights_file is given but pretrained is false; set pretrained: true to load it")
    kw = {"num_classes": num_classes, "in_chans": in_shape[0], "drop_rate": drop_rate}
    if channels is not None:
        kw["channels"] = tuple(channels)
    if stem_width is not None:
        kw["stem_width"] = stem_width
    if weights_file is not None:
        if not Path(weights_file).is_file():
            raise FileNotFoundError(f"pretrained weights file {weights_file} does not exist; " + _hub_hint(arch))
        kw["pretrained_cfg_overlay"] = {"file": str(weights_file)}
    try:
        return timm.create_model(arch, pretrained=pretrained, **kw)
    except (OSError, RuntimeError) as e:  # no network, no cache, or weights of another shape
        if pretrained and weights_file is None:
            raise RuntimeError(_hub_hint(arch) + f" ({type(e).__name__}: {e})") from e
        raise
