"""Datasets by name, as tensors with a fixed split (:class:`~convstudies.datasets.base.TensorDataset`).

    >>> from convstudies.datasets import build_dataset, list_datasets
    >>> ds = build_dataset("mnist5k")

One module per family, each function registered with ``@register_dataset``:
``embedded`` (shipped in packages or generated: mnist5k, digits, MNIST-1D, ...), ``vision``
(torchvision's MNIST, Fashion-MNIST, CIFAR-10 at full scale, the IDX reader), ``text``
(the negation corpus and MR). ``sources`` says, without torch, which files a full-scale
dataset needs. Importing this package imports no torch; building a dataset imports its module.
"""
from __future__ import annotations

from pathlib import Path

from ..registry import Registry, UnknownName, modules_in

DATASETS = Registry("dataset", "register_dataset", modules_in("convstudies.datasets"))
register_dataset = DATASETS.register
list_datasets = DATASETS.names


def build_dataset(name: str, root: str | Path | None = None):
    """Build a registered dataset; ``root`` is where datasets that read files find or download them."""
    try:
        entry = DATASETS.entry(name)
    except UnknownName as e:
        raise ValueError(str(e)) from None
    fn = DATASETS.get(name)
    return fn(root=root) if root is not None and "root" in entry.params else fn()


__all__ = ["DATASETS", "build_dataset", "list_datasets", "register_dataset"]
