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
# datasets derived from another's files (mnist_16: MNIST resampled to 16x16) need that one's files
SOURCES["mnist_16"], N_VAL["mnist_16"] = SOURCES["mnist"], N_VAL["mnist"]
# cifar10_pixelmean: CIFAR-10 with the per-pixel mean subtracted (He et al. 2016), from the same files
SOURCES["cifar10_pixelmean"], N_VAL["cifar10_pixelmean"] = SOURCES["cifar10"], N_VAL["cifar10"]
# cifar10_pixels: CIFAR-10 as pixel values in [0, 1] (for models that normalise their input), the same files
SOURCES["cifar10_pixels"], N_VAL["cifar10_pixels"] = SOURCES["cifar10"], N_VAL["cifar10"]

# the MR sentence-polarity corpus (Pang & Lee 2005), read by convstudies.datasets.text
REPO = Path(__file__).resolve().parents[2]
MR_FILES = ("rt-polarity.pos", "rt-polarity.neg")
MR_URL = "https://www.cs.cornell.edu/people/pabo/movie-review-data/rt-polaritydata.tar.gz"

HOSTS = {"mnist": "ossci-datasets.s3.amazonaws.com", "fashion_mnist": "fashion-mnist.s3-website.eu-central-1.amazonaws.com",
         "cifar10": "www.cs.toronto.edu", "mr": "www.cs.cornell.edu"}
HOSTS["mnist_16"] = HOSTS["mnist"]
HOSTS["mr_cv"] = HOSTS["mr"]  # the MR corpus pooled for 10-fold cross-validation: the same files
HOSTS["cifar10_pixelmean"] = HOSTS["cifar10"]
HOSTS["cifar10_pixels"] = HOSTS["cifar10"]


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
    if name in ("mr", "mr_cv"):
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


# Pretrained weights of the full scale (timm_resnet with pretrained: true). timm names each
# architecture's default weights by a Hugging Face hub repository; the table holds them for the
# ResNets a study may name, so planning needs no timm (tests check it against timm's own
# pretrained_cfg). timm reads model.safetensors there, else pytorch_model.bin.
TIMM_HUB = {"resnet10t": "timm/resnet10t.c3_in1k", "resnet18": "timm/resnet18.a1_in1k",
            "resnet34": "timm/resnet34.a1_in1k", "resnet50": "timm/resnet50.a1_in1k"}
HUB_FILES = ("model.safetensors", "pytorch_model.bin")
HUB_HOST = "huggingface.co"


def hub_cache_dir() -> Path:
    """The Hugging Face hub cache (HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")) / "huggingface"
    return Path(home).expanduser() / "hub"


def hub_cached(repo: str, cache_dir: str | Path | None = None) -> Path | None:
    """The weights file of hub repository ``repo`` in the local cache (the layout huggingface_hub writes:
    ``models--<org>--<name>/snapshots/<revision>/<file>``), or None; asks no network."""
    folder = Path(cache_dir or hub_cache_dir()) / f"models--{repo.replace('/', '--')}" / "snapshots"
    for name in HUB_FILES:
        found = sorted(p for p in folder.glob(f"*/{name}") if p.is_file())
        if found:
            return found[0]
    return None


def missing_weights(model_cfgs, is_online=online, cache_dir: str | Path | None = None) -> list[str]:
    """One message per pretrained weights file that a planned model needs and that is neither here nor
    downloadable now: a ``model.weights_file`` that does not exist, or timm's hub weights of a
    ``timm_resnet`` with ``pretrained: true`` that are not in the hub cache while the hub cannot be
    reached (or HF_HUB_OFFLINE=1). ``model_cfgs``: the runs' model configurations."""
    out, seen = [], set()
    for cfg in model_cfgs:
        if cfg.get("name") != "timm_resnet" or not cfg.get("pretrained"):
            continue
        arch, file = cfg.get("arch", "resnet18"), cfg.get("weights_file")
        if (arch, file) in seen:
            continue
        seen.add((arch, file))
        if file:
            if not Path(file).expanduser().is_file():
                out.append(f"timm_resnet {arch}: pretrained weights file {file} (model.weights_file) missing; put the "
                           f"state dict of timm's {arch!r} there (e.g. torch.save(timm.create_model({arch!r}, "
                           "pretrained=True).state_dict(), path) on a machine with network access, or the hub's "
                           "model.safetensors)")
            continue
        repo = TIMM_HUB.get(arch)
        cache = Path(cache_dir or hub_cache_dir())
        if repo is not None and hub_cached(repo, cache) is not None:
            continue
        if repo is None and any(cache.glob(f"models--timm--{arch}.*/snapshots/*/*")):
            continue  # some cached weights of this architecture; timm names the default one
        if os.environ.get("HF_HUB_OFFLINE") not in (None, "", "0") or not is_online(HUB_HOST):
            where = f"https://huggingface.co/{repo}" if repo else f"the hub repository of timm's {arch!r}"
            out.append(
                f"timm_resnet {arch}: ImageNet weights {repo or arch} ({' or '.join(HUB_FILES)}) are not in the "
                f"Hugging Face cache {cache} and {HUB_HOST} cannot be reached; get them: on a machine with network "
                f"access run `python -c \"import timm; timm.create_model({arch!r}, pretrained=True)\"` and copy its "
                f"cache folder models--{(repo or 'timm/' + arch).replace('/', '--')} into {cache} (or set HF_HOME), "
                f"or download model.safetensors from {where} and set the study's model.weights_file to it")
    return out
