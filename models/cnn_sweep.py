"""The configurable ``cnn`` with flat hyperparameters, for one-factor sweeps.

``cnn`` takes a list of block dicts; a study's ``vary`` sets one dotted key at a time, so it
cannot change "the kernel size of every layer" in one go. ``cnn_sweep`` takes each
hyperparameter once (``kernel: 5`` means every layer) or as a list with one value per layer
(``pool: [max, none]``), so ``vary: {model.kernel: [1, 3, 5, 7]}`` is one grid entry (one job);
``first_layer`` overrides values of the first layer only (``vary: {model.first_layer.pool_size: [3, 4]}``).
It builds exactly the blocks of ``cnn`` (``models/cnn.py``).
"""
from __future__ import annotations

from ._registry import register_model
from .cnn import CNN

PER_LAYER = ("filters", "kernel", "stride", "padding", "padding_mode", "pool", "pool_size", "norm", "pool_stride",
             "pool_padding")


def sweep_blocks(layers: int, first_layer: dict | None = None, **per_layer) -> list[dict]:
    """Block dicts of ``cnn`` from flat values (scalars repeat; lists give one value per layer).

    ``first_layer`` replaces some of the first layer's values (keys as in ``PER_LAYER``).

    ``padding_mode: none`` means no padding at all (``padding: 0``); the other modes pad
    ``padding`` pixels per side (``same`` = kernel // 2) filled as PyTorch's Conv2d does.
    """
    if layers < 1:
        raise ValueError(f"cnn_sweep needs layers >= 1, got {layers}")
    blocks = []
    for i in range(layers):
        spec = {}
        for key, v in per_layer.items():
            if isinstance(v, (list, tuple)):
                if len(v) != layers:
                    raise ValueError(f"cnn_sweep: {key} has {len(v)} values for {layers} layers")
                v = v[i]
            spec[key] = v
        if i == 0 and first_layer:
            unknown = sorted(set(first_layer) - set(per_layer))
            if unknown:
                raise ValueError(f"cnn_sweep: first_layer got unknown key(s) {unknown}; allowed: {sorted(per_layer)}")
            spec.update(first_layer)
        if spec["padding_mode"] == "none":
            spec["padding"], spec["padding_mode"] = 0, "zeros"
        blocks.append(spec)
    return blocks


@register_model(tiny={"layers": 1, "filters": 4, "pool": "max"})
def cnn_sweep(in_shape=(1, 28, 28), num_classes: int = 10, layers: int = 2, filters=16, kernel=3, stride=1,
              padding="same", padding_mode="zeros", pool="none", pool_size=2, norm=False,
              first_layer: dict | None = None, head: str = "flatten", hidden: int = 0, dropout: float = 0.0,
              pool_stride=None, pool_padding=0):
    """``layers`` conv blocks sharing one value per hyperparameter (or a list, one per layer).

    padding_mode: zeros / reflect / circular / replicate, or none (no padding); pool: none /
    max / avg / conv / blurmax after each block; first_layer: overrides for the first block;
    head: flatten / global_avg / global_max; pool_stride: the pooling stride (default: the window,
    non-overlapping); pool_padding: an int or ``same`` ((window - 1) // 2).
    """
    blocks = sweep_blocks(layers, first_layer, filters=filters, kernel=kernel, stride=stride, padding=padding,
                          padding_mode=padding_mode, pool=pool, pool_size=pool_size, norm=norm,
                          pool_stride=pool_stride, pool_padding=pool_padding)
    return CNN(in_shape, num_classes, blocks, head, hidden, dropout)
