"""Full-scale datasets from torchvision: MNIST, Fashion-MNIST, CIFAR-10.

Downloaded by torchvision into ``root`` when online; copies already there are used as they
are. Offline with a file missing, :func:`missing_items` lists each one with where it is
expected and how to get it, and the workflow stops before any training job.

Layouts (torchvision's own):
    <root>/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte
    <root>/FashionMNIST/raw/... (same names)
    <root>/cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}
"""
from __future__ import annotations

import os
import pickle
import socket
from pathlib import Path

import numpy as np
import torch


IDX_NAMES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte"]
CIFAR_NAMES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
# torchvision's folder per dataset, the files it must hold, and the official source
SOURCES = {
    "mnist": ("MNIST/raw", IDX_NAMES, "torchvision.datasets.MNIST(root, download=True), or the four IDX files "
              "of http://yann.lecun.com/exdb/mnist/ (plain or .gz)"),
    "fashion_mnist": ("FashionMNIST/raw", IDX_NAMES, "torchvision.datasets.FashionMNIST(root, download=True), or "
                      "the IDX files of https://github.com/zalandoresearch/fashion-mnist"),
    "cifar10": ("cifar-10-batches-py", CIFAR_NAMES, "torchvision.datasets.CIFAR10(root, download=True), or "
                "unpack cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html"),
}
N_VAL = {"mnist": 5000, "fashion_mnist": 5000, "cifar10": 5000}


HOSTS = {"mnist": "ossci-datasets.s3.amazonaws.com", "fashion_mnist": "fashion-mnist.s3-website.eu-central-1.amazonaws.com",
         "cifar10": "www.cs.toronto.edu"}


def online(host: str = "www.cs.toronto.edu", timeout: float = 2.0) -> bool:
    """Whether ``host`` answers on port 443; CONVSTUDIES_OFFLINE=1 says no without asking."""
    if os.environ.get("CONVSTUDIES_OFFLINE") == "1":
        return False
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def missing_items(name: str, root: str | Path) -> list[str]:
    """One message per missing file of a full-scale dataset: what, where, how to get it."""
    folder, files, how = SOURCES[name]
    where = Path(root) / folder
    missing = [f for f in files if not (where / f).exists() and not (where / f"{f}.gz").exists()]
    return [f"{name}: {f} missing; expected at {where / f}; get it with {how}" for f in missing]


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


def _idx_dataset(name: str, root: Path):
    from .data import TensorDataset
    from .evaluate import read_idx  # torchvision's IDX reader, plain or gzipped files

    x_rest, y_rest = read_idx(root / SOURCES[name][0], "train")
    x_test, y_test = read_idx(root / SOURCES[name][0], "test")
    x_train, y_train, x_val, y_val, _, _ = _split_off_val(x_rest, y_rest, n_val(name, len(y_rest)))
    return TensorDataset(name, x_train, y_train, x_val, y_val, x_test, y_test, 10)


def n_val(name: str, n_train: int) -> int:
    """5,000 validation examples from the official training set (a tenth of a small local copy)."""
    return N_VAL[name] if n_train > 2 * N_VAL[name] else max(10, n_train // 10)


def _split_off_val(x, y, n_val):
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    tr, va = train_test_split(idx, test_size=n_val, stratify=y.numpy(), random_state=0)
    tr, va = torch.as_tensor(np.sort(tr)), torch.as_tensor(np.sort(va))
    return x[tr], y[tr], x[va], y[va], None, None


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
    from .data import TensorDataset

    folder = root / SOURCES["cifar10"][0]
    x_rest, y_rest = read_cifar_batches(folder, CIFAR_NAMES[:5])
    x_test, y_test = read_cifar_batches(folder, CIFAR_NAMES[5:])
    mean, std = torch.tensor(CIFAR_MEAN)[:, None, None], torch.tensor(CIFAR_STD)[:, None, None]

    def norm(x):
        return (x.float() / 255.0 - mean) / std

    x_train, y_train, x_val, y_val, _, _ = _split_off_val(x_rest, y_rest, n_val("cifar10", len(y_rest)))
    return TensorDataset("cifar10", norm(x_train), y_train, norm(x_val), y_val, norm(x_test), y_test, 10)


def load_full(name: str, root: str | Path, download: bool | None = None):
    """A full-scale dataset as tensors (train / val split off the official train set / official test)."""
    root = Path(root)
    ensure(name, root, online(HOSTS[name]) if download is None else download)
    return _cifar10(root) if name == "cifar10" else _idx_dataset(name, root)


def mnist(root: str | Path = "data"):
    """Full MNIST: 55,000 train / 5,000 val (stratified, fixed) / the official 10,000 test."""
    return load_full("mnist", root)


def fashion_mnist(root: str | Path = "data"):
    """Fashion-MNIST: 55,000 train / 5,000 val / the official 10,000 test."""
    return load_full("fashion_mnist", root)


def cifar10(root: str | Path = "data"):
    """CIFAR-10, per-channel normalised: 45,000 train / 5,000 val / the official 10,000 test."""
    return load_full("cifar10", root)


FULL_DATASETS = {f.__name__: f for f in (mnist, fashion_mnist, cifar10)}


def unavailable(datasets: set[str], root: str | Path, is_online=online) -> list[str]:
    """Messages for every file of the full-scale ``datasets`` that is missing and cannot be downloaded now."""
    return [m for name in sorted(datasets & set(SOURCES)) if not is_online(HOSTS[name])
            for m in missing_items(name, root)]
