"""Which files each full-scale dataset needs, where, and how to get them; imports no torch.

The workflow asks :func:`unavailable` while it plans, so an offline machine stops before
any job with one line per missing file.

Layouts (torchvision's own, and the MR corpus's):
    <root>/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte
    <root>/FashionMNIST/raw/... (same names)
    <root>/cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}
    <root>/rt-polarity/rt-polarity.{pos,neg} (or $CONVSTUDIES_MR_DIR, or ../shared/datasets/rt-polarity
    beside the repository: :func:`mr_candidates`, which the text module's loader uses too)
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

# the MR sentence-polarity corpus (Pang & Lee 2005), read by convstudies.datasets.text
REPO = Path(__file__).resolve().parents[2]
MR_FILES = ("rt-polarity.pos", "rt-polarity.neg")
MR_URL = "https://www.cs.cornell.edu/people/pabo/movie-review-data/rt-polaritydata.tar.gz"

HOSTS = {"mnist": "ossci-datasets.s3.amazonaws.com", "fashion_mnist": "fashion-mnist.s3-website.eu-central-1.amazonaws.com",
         "cifar10": "www.cs.toronto.edu", "mr": "www.cs.cornell.edu"}


def online(host: str = "www.cs.toronto.edu", timeout: float = 2.0) -> bool:
    """Whether ``host`` answers on port 443; CONVSTUDIES_OFFLINE=1 says no without asking."""
    if os.environ.get("CONVSTUDIES_OFFLINE") == "1":
        return False
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def mr_candidates(root: str | Path | None = None, repo: Path | None = None) -> list[Path]:
    """Where the MR corpus is looked for without an explicit directory, first match wins; the
    first one is where it is downloaded to when no candidate holds it: $CONVSTUDIES_MR_DIR alone
    when set (an explicit choice: no fallback); else ``<root>/rt-polarity`` (``root``: the data
    root, ``<repo>/data`` by default) and ``../shared/datasets/rt-polarity`` beside the repository."""
    if os.environ.get("CONVSTUDIES_MR_DIR"):
        return [Path(os.environ["CONVSTUDIES_MR_DIR"]).expanduser()]
    repo = REPO if repo is None else Path(repo)
    data_root = Path(root).expanduser() if root is not None else repo / "data"
    return [data_root / "rt-polarity", repo.parent / "shared" / "datasets" / "rt-polarity"]


def mr_found(root: str | Path | None = None) -> Path | None:
    """The first candidate directory (:func:`mr_candidates`) that holds both MR files, or None."""
    return next((d for d in mr_candidates(root) if all((d / f).is_file() for f in MR_FILES)), None)


def missing_mr(root: str | Path | None = None) -> list[str]:
    """One message per MR file missing from every candidate directory: what, where looked, how to get it."""
    if mr_found(root) is not None:
        return []
    cands = mr_candidates(root)
    missing = [f for f in MR_FILES if not (cands[0] / f).is_file()]  # where the loader then reads
    looked = ", ".join(str(d) for d in cands)
    how = (f"download {MR_URL} and put its rt-polarity.pos and rt-polarity.neg (latin-1, one sentence a line) "
           f"into {cands[0]}, or set CONVSTUDIES_MR_DIR to the directory that holds them")
    return [f"mr: {f} missing; expected at {cands[0] / f} (looked in {looked}); get it: {how}" for f in missing]


def missing_items(name: str, root: str | Path) -> list[str]:
    """One message per missing file of a full-scale dataset: what, where, how to get it."""
    if name == "mr":
        return missing_mr(root)
    folder, files, how = SOURCES[name]
    where = Path(root) / folder
    missing = [f for f in files if not (where / f).exists() and not (where / f"{f}.gz").exists()]
    return [f"{name}: {f} missing; expected at {where / f}; get it with {how}" for f in missing]


def unavailable(datasets: set[str], root: str | Path, is_online=online) -> list[str]:
    """Messages for every file of the full-scale ``datasets`` that is missing and cannot be downloaded now."""
    out = []
    for name in sorted(datasets & set(HOSTS)):
        missing = missing_items(name, root)
        if missing and not is_online(HOSTS[name]):  # ask the network only when a file is missing
            out += missing
    return out
