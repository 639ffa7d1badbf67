"""What a run directory records about where and with what it ran."""
from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
from importlib import metadata

from ..config import ROOT

PACKAGES = ("torch", "torchvision", "pytorch-lightning", "torchmetrics", "timm", "numpy", "pandas", "snakemake")


def git_revision() -> dict:
    def git(*args):
        try:
            return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True,
                                  timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    rev = git("rev-parse", "HEAD")
    return {"revision": rev or None, "dirty": bool(git("status", "--porcelain")) if rev else None}


_AT_START: dict | None = None


def git_at_start() -> dict:
    """The tree's git state when this process first asked (training asks before its first run):
    a process runs the code it imported when it started, so a run written after a later commit
    still records the revision it ran, not the one checked out when it finished."""
    global _AT_START
    if _AT_START is None:
        _AT_START = git_revision()
    return _AT_START


def versions() -> dict:
    """Python, the key packages, torch's CUDA and cuDNN builds, and every installed distribution."""
    import torch

    out = {"python": sys.version.split()[0]}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = None
    out["cuda"] = torch.version.cuda
    out["cudnn"] = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    out["distributions"] = dict(sorted({d.metadata["Name"]: d.version for d in metadata.distributions()
                                        if d.metadata["Name"]}.items(), key=lambda kv: kv[0].lower()))
    return out


def hardware() -> dict:
    import torch

    hw = {"host": socket.gethostname(), "platform": platform.platform(), "cpus": os.cpu_count(),
          "torch_threads": torch.get_num_threads(), "cuda": torch.cuda.is_available()}
    if torch.cuda.is_available():
        hw["gpu"] = torch.cuda.get_device_name()
        hw["gpu_capability"] = ".".join(map(str, torch.cuda.get_device_capability()))
        hw["cuda_driver"] = torch.cuda.driver_version() if hasattr(torch.cuda, "driver_version") else None
    if os.environ.get("SLURM_JOB_ID"):
        hw["slurm_job_id"] = os.environ["SLURM_JOB_ID"]
    return hw


def provenance() -> dict:
    return {"versions": versions(), "git": git_at_start(), "hardware": hardware()}
