"""Share GPUs between training jobs: each job holds one of ``per_device`` slots of one GPU.

Slots are lock files (``flock``) named by the GPU's UUID, so jobs started by Snakemake on
one machine, or by SLURM on nodes sharing the results directory, never oversubscribe a
device, and a killed job releases its slot with its process. A job that finds every slot
taken waits for one.
"""
from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path


def device_ids() -> list[str]:
    """A stable id per visible CUDA device (its UUID when torch reports one)."""
    import torch

    ids = []
    for i in range(torch.cuda.device_count()):
        uuid = getattr(torch.cuda.get_device_properties(i), "uuid", None)
        ids.append(str(uuid) if uuid is not None else f"{os.uname().nodename}-cuda{i}")
    return ids


@contextmanager
def gpu_slot(lock_dir: str | Path, devices: list[str], per_device: int = 1, poll_s: float = 0.5):
    """Hold a free (device, slot) for the duration of the block; yields the device's index."""
    lock_dir = Path(lock_dir)
    lock_dir.mkdir(parents=True, exist_ok=True)
    while True:
        for slot in range(per_device):  # fill every device's first slot before any second slot
            for index, dev in enumerate(devices):
                f = open(lock_dir / f"{dev}.slot{slot}.lock", "w")
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    f.close()
                    continue
                try:
                    yield index
                finally:
                    fcntl.flock(f, fcntl.LOCK_UN)
                    f.close()
                return
        time.sleep(poll_s)
