"""Which files each full-scale dataset needs, where, and how to get them; imports no torch.

The workflow asks :func:`unavailable` while it plans, so an offline machine stops before
any job with one line per missing file.

Layouts (torchvision's own):
    <root>/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte
    <root>/FashionMNIST/raw/... (same names)
    <root>/cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}
"""
from __future__ import annotations

import os
import socket
from pathlib import Path

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


def unavailable(datasets: set[str], root: str | Path, is_online=online) -> list[str]:
    """Messages for every file of the full-scale ``datasets`` that is missing and cannot be downloaded now."""
    return [m for name in sorted(datasets & set(SOURCES)) if not is_online(HOSTS[name])
            for m in missing_items(name, root)]
