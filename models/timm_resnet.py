"""timm ResNets by name, optionally narrowed for CPUs, optionally with pretrained weights.

``timm_resnet(arch="resnet18", pretrained=True)`` is timm's ImageNet ResNet-18 (its default
pretrained tag) with a fresh classifier for ``num_classes`` (always re-initialised, also when
the class counts agree) and its first convolution adapted to the input's channels (timm sums
the RGB filters for one-channel images). The weights come through timm's own loader
(``timm.create_model(..., pretrained=True)``): from ``weights_file`` when given, else from the
Hugging Face hub cache when the file is there, else downloaded by timm from the hub; a file is
passed as ``pretrained_cfg_overlay=dict(file=...)``, so a machine without network access runs
the full scale from a downloaded copy. The model records what it loaded in its
``initial_weights`` attribute (where from, the file's sha256, how many tensors loaded and the
names of those not loaded); the training engine writes it into the run's provenance, and a
pretrained model that loaded no backbone tensor is refused.

``pretrained_input`` feeds the network what its weights expect (timm's
``resolve_data_config``: the pretrained_cfg's input size, interpolation, mean and std): each
batch is resized on its device to the input size and normalised, inside the model's forward
(a forward pre-hook; the state dict keeps timm's keys). The data must then be pixel values in
[0, 1], e.g. the ``cifar10_pixels`` dataset.

``channels``/``stem_width`` shrink the stages (timm's ``ResNet`` arguments) for the embedded
scale; a narrowed net can only load weights of the same shape, e.g. those of a pretraining run
of the workflow. The model returned is timm's own ``nn.Module``, so its state dict keys are
timm's and a state dict saved by a run loads back through timm.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from ._registry import register_model

HUB_FILES = ("model.safetensors", "pytorch_model.bin")  # what timm reads from a hub repository, first found


def _hub_hint(arch: str) -> str:
    import timm

    cfg = timm.models.get_pretrained_cfg(arch)
    hub = getattr(cfg, "hf_hub_id", None) if cfg is not None else None
    where = f"the Hugging Face hub ({hub})" if hub else "its timm source"
    return (f"timm could not load pretrained weights for {arch!r} from {where}; offline, download them "
            f"elsewhere (e.g. `timm.create_model({arch!r}, pretrained=True)` fills the hub cache, or save "
            f"its state_dict with torch.save) and pass the file as model.weights_file")


def cached_hub_file(hf_hub_id: str | None) -> Path | None:
    """The weights file of a hub repository in the local Hugging Face cache (no network), or None."""
    if not hf_hub_id:
        return None
    from huggingface_hub import try_to_load_from_cache

    for name in HUB_FILES:
        found = try_to_load_from_cache(hf_hub_id, name)
        if isinstance(found, str) and Path(found).is_file():
            return Path(found)
    return None


def sha256_of(path: str | Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _pretrained_input(module, args):
    """Forward pre-hook: resize the batch to the weights' input size, then normalise it with their mean/std."""
    import torch.nn.functional as F

    x = args[0]
    if tuple(x.shape[-2:]) != module.pretrained_input_size:
        x = F.interpolate(x, size=module.pretrained_input_size, mode=module.pretrained_input_interpolation,
                          align_corners=False)
    return ((x - module.pretrained_input_mean) / module.pretrained_input_std,) + tuple(args[1:])


def add_pretrained_input(m, in_chans: int) -> dict:
    """Give timm model ``m`` the input its pretrained weights expect (see the module docstring);
    returns timm's resolved data config (input_size, interpolation, mean, std)."""
    import timm
    import torch

    cfg = timm.data.resolve_data_config({}, model=m)
    mean, std = torch.tensor(cfg["mean"], dtype=torch.float32), torch.tensor(cfg["std"], dtype=torch.float32)
    if in_chans != len(mean):
        if in_chans != 1:
            raise ValueError(f"pretrained_input: the weights expect {len(mean)} channels, the data have {in_chans}")
        mean, std = mean.mean(0, keepdim=True), std.mean(0, keepdim=True)  # grey images: the channels' average
    mode = {"bicubic": "bicubic", "bilinear": "bilinear", "nearest": "nearest"}.get(cfg["interpolation"], "bilinear")
    m.register_buffer("pretrained_input_mean", mean.view(1, -1, 1, 1), persistent=False)
    m.register_buffer("pretrained_input_std", std.view(1, -1, 1, 1), persistent=False)
    m.pretrained_input_size = tuple(int(s) for s in cfg["input_size"][1:])
    m.pretrained_input_interpolation = mode
    m.register_forward_pre_hook(_pretrained_input)
    return {"input_size": list(cfg["input_size"]), "interpolation": mode, "mean": mean.tolist(), "std": std.tolist()}


@register_model(tiny={"arch": "resnet10t", "channels": [4, 8, 16, 32], "stem_width": 4})
def timm_resnet(in_shape=(3, 224, 224), num_classes: int = 1000, arch: str = "resnet18", pretrained: bool = False,
                weights_file: str | None = None, channels: list[int] | None = None, stem_width: int | None = None,
                drop_rate: float = 0.0, pretrained_input: bool = False):
    """A timm ResNet (``arch``: resnet10t, resnet18, resnet34, resnet50, ...); ``pretrained`` loads
    timm's weights (from ``weights_file`` when given, else the hub cache or the hub) with a fresh
    classifier; ``channels``/``stem_width`` narrow it; ``pretrained_input`` resizes and normalises
    [0, 1] images on the device as the weights expect."""
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
    if not pretrained:
        m = timm.create_model(arch, pretrained=False, **kw)
    else:
        m = _pretrained(arch, weights_file, kw)
    if pretrained_input:
        info = add_pretrained_input(m, in_shape[0])
        if getattr(m, "initial_weights", None) is not None:
            m.initial_weights["input"] = info
    return m


def _pretrained(arch: str, weights_file: str | None, kw: dict):
    """timm's pretrained ``arch`` with a fresh classifier, and its ``initial_weights`` record."""
    import timm

    hub_id = getattr(timm.models.get_pretrained_cfg(arch), "hf_hub_id", None)
    if weights_file is not None:
        if not Path(weights_file).is_file():
            raise FileNotFoundError(f"pretrained weights file {weights_file} does not exist; " + _hub_hint(arch))
        file, source = Path(weights_file), "model.weights_file"
    else:
        file = cached_hub_file(hub_id)
        source = f"Hugging Face hub cache ({hub_id})"
    seen: dict = {}

    def record(state_dict, model):  # timm hands over the file's tensors before it adapts and loads them
        seen["keys"] = set(state_dict)
        return state_dict

    extra = {"pretrained_cfg_overlay": {"file": str(file)}} if file is not None else {}
    try:
        m = timm.create_model(arch, pretrained=True, pretrained_filter_fn=record, **extra, **kw)
    except (OSError, RuntimeError) as e:  # no network, no cache, or weights of another shape
        if file is None:
            raise RuntimeError(_hub_hint(arch) + f" ({type(e).__name__}: {e})") from e
        raise
    if file is None:  # timm downloaded it into the hub cache
        file, source = cached_hub_file(hub_id), f"Hugging Face hub ({hub_id})"
    m.reset_classifier(kw["num_classes"])  # a fresh classifier, also when the class counts agree
    head = {f"{m.pretrained_cfg.get('classifier', 'fc')}.{k}" for k in m.get_classifier().state_dict()}
    own = list(m.state_dict())
    loaded = [k for k in own if k in seen.get("keys", ()) and k not in head]
    not_loaded = sorted(set(own) - set(loaded))
    if not loaded:
        raise ValueError(f"pretrained weights {file or hub_id} loaded no backbone tensor into {arch} (none of the "
                         f"file's {len(seen.get('keys', ()))} tensor names is one of the model's): refusing to "
                         "fine-tune a network that would start from scratch; check model.arch/channels against "
                         "the file")
    m.initial_weights = {"from": source, "arch": arch, "tag": None if weights_file else m.pretrained_cfg.get("tag"),
                         "file": str(file) if file is not None else None,
                         "sha256": sha256_of(file) if file is not None else None,
                         "loaded": len(loaded), "not_loaded": not_loaded}
    return m
