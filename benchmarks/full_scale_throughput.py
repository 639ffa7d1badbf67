"""Full-scale lenet5 and residual on synthetic data of the real shapes: seconds per step and per run.

    python benchmarks/full_scale_throughput.py                      # every full-scale point, both studies
    python benchmarks/full_scale_throughput.py --studies residual --batches 3 --out r.json

Where full MNIST and CIFAR-10 cannot be had (no download on this machine), this is what the
full scale can still say: each point's resolved full-scale configuration (confirmation phase:
model, batch size, optimiser, augmentation, precision chosen for the device) trained through the
engine on random images of the dataset's shape, timed over the second of two short epochs, and
the full run's training time projected from the number of optimiser steps its protocol takes
(whole epochs of the real training set, at least ``min_steps``). No accuracy, no anchor: the
data are noise. Per-epoch validation and the evaluations after training are not counted.
"""
from __future__ import annotations

import argparse
import json
import math
import time

import torch

from convstudies.config import deep_merge, expand_points, load_study, seeds_for
from convstudies.datasets.base import TensorDataset
from convstudies.engine.train import epochs_to_train, fit, resolve_device, resolve_precision

# The real training sets of the full scale (confirmation phase trains on the validation images too)
SHAPES = {"mnist": ((1, 28, 28), 60_000), "cifar10_pixelmean": ((3, 32, 32), 50_000)}
STUDIES = ("lenet5", "residual")


def full_run_steps(cfg: dict, n_train: int) -> int:
    """Optimiser steps of one full run, counted as the engine counts them."""
    tc = cfg["train"]
    per_epoch = math.ceil(n_train / tc["batch_size"])
    return epochs_to_train(tc, per_epoch) * per_epoch


def synthetic(shape: tuple, n: int, n_eval: int = 256) -> TensorDataset:
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(n, *shape, generator=g), torch.randint(0, 10, (n,), generator=g)
    return TensorDataset("synthetic", x, y, x[:n_eval], y[:n_eval], x[:n_eval], y[:n_eval], 10)


def seconds_per_step(cfg: dict, shape: tuple, batches: int, device, precision) -> float:
    """Wall seconds per optimiser step over the second of two epochs of ``batches`` steps each."""
    import pytorch_lightning as pl

    marks = []

    class Clock(pl.Callback):
        def on_train_epoch_start(self, trainer, module):
            if device.type == "cuda":
                torch.cuda.synchronize()
            marks.append(time.perf_counter())

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            if device.type == "cuda":
                torch.cuda.synchronize()
            marks.append(time.perf_counter())

    data = synthetic(shape, batches * cfg["train"]["batch_size"]).to(device)
    short = deep_merge(cfg, {"train": {"epochs": 2, "min_steps": 0, "milestones": [], "checkpoint": False}})
    fit(short, data, device, precision, callbacks=[Clock()])
    # marks: epoch-1 start, its batch-group ends, epoch-2 start, its batch-group ends
    second = marks[len(marks) // 2:]
    return (second[-1] - second[0]) / batches


def measure(studies: list[str], batches: int, device, precision) -> list[dict]:
    rows = []
    for study_id in studies:
        study = load_study(study_id)
        seeds = len(seeds_for(study, "full", "confirmation"))
        for point, spec in expand_points(study, "full", phase="confirmation").items():
            cfg = {**spec["config"], "seed": 0}
            shape, n_train = SHAPES[cfg["data"]["dataset"]]
            s = seconds_per_step(cfg, shape, batches, device, precision)
            steps = full_run_steps(cfg, n_train)
            rows.append({"study": study_id, "point": point, "batch_size": cfg["train"]["batch_size"],
                         "seconds_per_step": s, "images_per_s": cfg["train"]["batch_size"] / s,
                         "steps_per_run": steps, "hours_per_run": steps * s / 3600, "runs": seeds,
                         "hours_all_seeds": seeds * steps * s / 3600})
            print(f"{study_id:9s} {point[:40]:40s} {s * 1000:8.1f} ms/step {rows[-1]['images_per_s']:8.0f} img/s "
                  f"{steps:6d} steps {rows[-1]['hours_per_run']:7.2f} h/run", flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--studies", nargs="+", choices=STUDIES, default=list(STUDIES))
    p.add_argument("--batches", type=int, default=4, help="steps per timed epoch")
    p.add_argument("--accelerator", default="auto")
    p.add_argument("--out", default=None)
    a = p.parse_args()
    device = resolve_device(a.accelerator)
    precision = resolve_precision("auto", device)
    rows = measure(a.studies, a.batches, device, precision)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    total = {s: round(sum(r["hours_all_seeds"] for r in rows if r["study"] == s), 1) for s in a.studies}
    print(f"device: {name} ({precision}); projected training hours, all confirmation runs: {total}")
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"device": name, "precision": precision, "points": rows}, f, indent=1)


if __name__ == "__main__":
    main()
