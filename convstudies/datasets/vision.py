"""Full-scale datasets from torchvision: MNIST, Fashion-MNIST, CIFAR-10; the MNIST IDX reader.

Downloaded by torchvision into ``root`` when online; copies already there are used as they
are. Offline with a file missing, every missing file is named with where it is expected and
how to get it (:mod:`convstudies.datasets.sources`, which the workflow asks before any job).
"""
from __future__ import annotations

import gzip
import pickle
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from . import register_dataset
from .base import TensorDataset, resampled, split_off_val
from .sources import CIFAR_NAMES, HOSTS, N_VAL, SOURCES, missing_items, online


def ensure(name: str, root: str | Path, download: bool) -> None:
    """Download through torchvision when allowed and needed; otherwise fail naming every missing file."""
    missing = missing_items(name, root)
    if missing and download:
        import torchvision

        cls = {"mnist": torchvision.datasets.MNIST, "fashion_mnist": torchvision.datasets.FashionMNIST,
               "cifar10": torchvision.datasets.CIFAR10}[name]
        for train in (True, False):
            cls(str(root), train=train, download=True)
        missing = missing_items(name, root)
    if missing:
        raise FileNotFoundError("full-scale data missing:\n  " + "\n  ".join(missing))


IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _find(directory: Path, name: str) -> Path:
    for cand in (directory / name, directory / f"{name}.gz", directory / "MNIST" / "raw" / name,
                 directory / "MNIST" / "raw" / f"{name}.gz"):
        if cand.exists():
            return cand
    raise FileNotFoundError(f"MNIST file {name} (or {name}.gz) not found in {directory} or {directory}/MNIST/raw; "
                            "download the four IDX files of MNIST there")


def read_idx(directory: str | Path, split: str = "test"):
    """(images float (N, 1, 28, 28) in [0, 1], labels long (N,)) from MNIST IDX files, via torchvision.

    The files sit directly in ``directory`` or in torchvision's ``MNIST/raw`` below it, plain or gzipped.
    """
    from torchvision.datasets.mnist import read_image_file, read_label_file

    paths = [_find(Path(directory), n) for n in IDX_FILES[split]]
    with tempfile.TemporaryDirectory() as tmp:
        plain = []
        for p in paths:
            if p.suffix == ".gz":
                out = Path(tmp) / p.stem
                with gzip.open(p, "rb") as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                p = out
            plain.append(p)
        try:
            x, y = read_image_file(str(plain[0])), read_label_file(str(plain[1]))
        except Exception as e:  # noqa: BLE001 - a corrupt file gets a message naming it
            reason = str(e) or type(e).__name__
            raise ValueError(f"cannot read MNIST IDX files {paths[0]} / {paths[1]}: {reason}; they are not IDX "
                             "files of images and labels (damaged, truncated or another format): download them "
                             "again") from e
    if len(x) != len(y):
        raise ValueError(f"{paths[0]} has {len(x)} images but {paths[1]} has {len(y)} labels")
    return x[:, None].float() / 255.0, y.long()


def _idx_dataset(name: str, root: Path):
    x_rest, y_rest = read_idx(root / SOURCES[name][0], "train")
    x_test, y_test = read_idx(root / SOURCES[name][0], "test")
    x_train, y_train, x_val, y_val = split_off_val(x_rest, y_rest, n_val(name, len(y_rest)))
    return TensorDataset(name, x_train, y_train, x_val, y_val, x_test, y_test, 10)


def n_val(name: str, n_train: int) -> int:
    """5,000 validation examples from the official training set (a tenth of a small local copy)."""
    return N_VAL[name] if n_train > 2 * N_VAL[name] else max(10, n_train // 10)


def read_cifar_batches(folder: Path, names: list[str]):
    """CIFAR-10 python batches (pickled dicts with b"data" (N, 3072) uint8 and b"labels")."""
    xs, ys = [], []
    for n in names:
        try:
            with open(folder / n, "rb") as f:
                d = pickle.load(f, encoding="bytes")
            xs.append(np.asarray(d[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            ys.append(np.asarray(d[b"labels"], dtype=np.int64))
        except Exception as e:  # noqa: BLE001 - name the bad file
            raise ValueError(f"cannot read CIFAR-10 batch {folder / n}: {e}; delete it and download again") from e
    return torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys))


CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


def _cifar10(root: Path):
    folder = root / SOURCES["cifar10"][0]
    x_rest, y_rest = read_cifar_batches(folder, CIFAR_NAMES[:5])
    x_test, y_test = read_cifar_batches(folder, CIFAR_NAMES[5:])
    mean, std = torch.tensor(CIFAR_MEAN)[:, None, None], torch.tensor(CIFAR_STD)[:, None, None]

    def norm(x):
        return (x.float() / 255.0 - mean) / std

    x_train, y_train, x_val, y_val = split_off_val(x_rest, y_rest, n_val("cifar10", len(y_rest)))
    return TensorDataset("cifar10", norm(x_train), y_train, norm(x_val), y_val, norm(x_test), y_test, 10)


def _cifar10_pixelmean(root: Path):
    """CIFAR-10 in [0, 1] minus the per-pixel mean of the training split (He et al. 2016, section 4.2:
    "the per-pixel mean subtracted"; no division by a standard deviation). The mean image is that of
    the 45,000 training images, so validation images never inform it."""
    folder = root / SOURCES["cifar10"][0]
    x_rest, y_rest = read_cifar_batches(folder, CIFAR_NAMES[:5])
    x_test, y_test = read_cifar_batches(folder, CIFAR_NAMES[5:])
    x_train, y_train, x_val, y_val = split_off_val(x_rest, y_rest, n_val("cifar10", len(y_rest)))
    mean = (x_train.float() / 255.0).mean(0, keepdim=True)  # (1, 3, 32, 32)

    def norm(x):
        return x.float() / 255.0 - mean

    return TensorDataset("cifar10_pixelmean", norm(x_train), y_train, norm(x_val), y_val, norm(x_test), y_test, 10)


def _cifar10_pixels(root: Path):
    """CIFAR-10 as pixel values in [0, 1], not normalised (the split of ``cifar10``): for models that
    normalise their input themselves, e.g. with the mean and std their pretrained weights expect
    (``timm_resnet`` with ``pretrained_input``)."""
    folder = root / SOURCES["cifar10"][0]
    x_rest, y_rest = read_cifar_batches(folder, CIFAR_NAMES[:5])
    x_test, y_test = read_cifar_batches(folder, CIFAR_NAMES[5:])
    x_train, y_train, x_val, y_val = split_off_val(x_rest, y_rest, n_val("cifar10", len(y_rest)))

    def pixels(x):
        return x.float() / 255.0

    return TensorDataset("cifar10_pixels", pixels(x_train), y_train, pixels(x_val), y_val, pixels(x_test), y_test, 10)


def load_full(name: str, root: str | Path, download: bool | None = None):
    """A full-scale dataset as tensors (train / val split off the official train set / official test)."""
    root = Path(root)
    if name == "cifar10_pixelmean":
        ensure("cifar10", root, online(HOSTS["cifar10"]) if download is None else download)
        return _cifar10_pixelmean(root)
    if name == "cifar10_pixels":
        ensure("cifar10", root, online(HOSTS["cifar10"]) if download is None else download)
        return _cifar10_pixels(root)
    ensure(name, root, online(HOSTS[name]) if download is None else download)
    return _cifar10(root) if name == "cifar10" else _idx_dataset(name, root)


@register_dataset
def mnist(root: str | Path = "data"):
    """Full MNIST: 55,000 train / 5,000 val (stratified, fixed) / the official 10,000 test."""
    return load_full("mnist", root)


@register_dataset
def mnist_16(root: str | Path = "data"):
    """Full MNIST (same split as ``mnist``) with each digit resampled to 16x16 (bilinear, antialiased)."""
    return resampled(load_full("mnist", root), "mnist_16")


@register_dataset
def fashion_mnist(root: str | Path = "data"):
    """Fashion-MNIST: 55,000 train / 5,000 val / the official 10,000 test."""
    return load_full("fashion_mnist", root)


@register_dataset
def cifar10(root: str | Path = "data"):
    """CIFAR-10, per-channel normalised: 45,000 train / 5,000 val / the official 10,000 test."""
    return load_full("cifar10", root)


@register_dataset
def cifar10_pixelmean(root: str | Path = "data"):
    """CIFAR-10 as He et al. (2016): [0, 1] minus the per-pixel training mean; 45,000 train / 5,000 val / 10,000 test."""
    return load_full("cifar10_pixelmean", root)


@register_dataset
def cifar10_pixels(root: str | Path = "data"):
    """CIFAR-10 as pixel values in [0, 1] (not normalised), the split of ``cifar10``: for models that
    normalise their input themselves (timm_resnet with pretrained_input: the weights' mean/std)."""
    return load_full("cifar10_pixels", root)
