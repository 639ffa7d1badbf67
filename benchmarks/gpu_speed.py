"""Full-scale speed on a GPU: LeNet-5 on MNIST and ResNet-20 on CIFAR-10, engine vs plain loop.

    python benchmarks/gpu_speed.py --data-root data --out benchmarks/gpu_speed.json
    python benchmarks/gpu_speed.py --synthetic --epochs 1      # smoke run, any machine

Both paths train the same model from the same seed on the same device-resident data with
the same augmentation and schedule; after every epoch both measure test accuracy (timed
too). Reports images/s, wall time to the target accuracy (99 % MNIST, 91 % CIFAR-10) and
the device name. Results go to RESULTS.md by hand, with the conditions.
"""
from __future__ import annotations

import argparse
import json
import time

import torch
import torch.nn.functional as F

from convstudies.config import deep_merge, run_defaults
from convstudies.datasets.base import TensorDataset
from convstudies.engine.batches import TensorBatches
from convstudies.evaluations.common import accuracy_of
from convstudies.engine.train import fit, resolve_device, resolve_precision
from convstudies.models import build_model
from convstudies.shifts import random_flip, random_translate

TASKS = {
    "lenet5_mnist": {"dataset": "mnist", "target": 0.99, "model": {"name": "lenet5"},
                     "train": {"epochs": 8, "batch_size": 128, "optimizer": "adam", "lr": 0.002, "schedule": "cosine"}},
    "resnet20_cifar10": {"dataset": "cifar10", "target": 0.91, "model": {"name": "resnet_cifar", "depth": 20},
                         "train": {"epochs": 40, "batch_size": 512, "optimizer": "sgd", "lr": 0.2, "momentum": 0.9,
                                   "weight_decay": 5e-4, "schedule": "cosine", "augment_shift": 4,
                                   "augment_flip": True}},
}


def synthetic(name: str, n: int = 2048) -> TensorDataset:
    shape = (3, 32, 32) if name == "cifar10" else (1, 28, 28)
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(n, *shape, generator=g), torch.randint(0, 10, (n,), generator=g)
    return TensorDataset(name, x, y, x[:256], y[:256], x[:512], y[:512], 10)


class EpochClock:
    """Test accuracy and elapsed time after every epoch."""

    def __init__(self, data):
        self.data, self.t0, self.points = data, None, []

    def start(self):
        self.t0 = time.perf_counter()

    def tick(self, model):
        if self.data.x_test.is_cuda:
            torch.cuda.synchronize()
        self.points.append((time.perf_counter() - self.t0, accuracy_of(model, self.data.x_test, self.data.y_test)))
        model.train()

    def time_to(self, target):
        return next((t for t, acc in self.points if acc >= target), None)


def plain(cfg, data, device, precision) -> EpochClock:
    tc = cfg["train"]
    model = build_model(cfg["model"], data.in_shape, 10, seed=cfg["seed"]).to(device)
    model = model.to(memory_format=torch.channels_last)
    if tc["optimizer"] == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=tc["lr"], momentum=tc["momentum"], nesterov=True,
                              weight_decay=tc["weight_decay"])
    else:
        opt = torch.optim.Adam(model.parameters(), lr=tc["lr"])
    batches = TensorBatches(data.x_train, data.y_train, tc["batch_size"], seed=cfg["seed"])
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=tc["epochs"] * len(batches))
    gen = torch.Generator(device=device).manual_seed(cfg["seed"] + 1)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16-mixed")
    clock = EpochClock(data)
    clock.start()
    for _ in range(tc["epochs"]):
        model.train()
        for x, y in batches:
            x = random_translate(x, tc.get("augment_shift", 0), gen)
            if tc.get("augment_flip"):
                x = random_flip(x, gen)
            with autocast:
                loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        clock.tick(model)
    return clock


def engine(cfg, data, device, precision) -> EpochClock:
    import pytorch_lightning as pl

    clock = EpochClock(data)

    class Tick(pl.Callback):
        def on_train_start(self, trainer, module):
            clock.start()

        def on_train_epoch_end(self, trainer, module):
            clock.tick(module.model)

    fit(cfg, data, device, precision, callbacks=[Tick()])
    return clock


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", nargs="+", choices=sorted(TASKS), default=sorted(TASKS))
    p.add_argument("--data-root", default="data")
    p.add_argument("--synthetic", action="store_true", help="random data of the right shapes (smoke run)")
    p.add_argument("--epochs", type=int, default=None, help="override every task's epochs")
    p.add_argument("--out", default=None)
    a = p.parse_args()
    device = resolve_device("auto")
    precision = resolve_precision("auto", device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    results = {"device": name, "precision": precision, "tasks": {}}
    for task in a.tasks:
        spec = TASKS[task]
        if a.synthetic:
            data = synthetic(spec["dataset"])
        else:
            from convstudies.datasets.vision import load_full

            data = load_full(spec["dataset"], a.data_root)
        data = data.to(device)
        for split in ("train", "val", "test"):
            setattr(data, f"x_{split}", getattr(data, f"x_{split}").contiguous(memory_format=torch.channels_last))
        train = dict(spec["train"], **({"epochs": a.epochs} if a.epochs else {}))
        cfg = deep_merge(run_defaults(), {"seed": 0, "model": spec["model"], "train": train})
        warm = TensorDataset(data.name, data.x_train[:1024], data.y_train[:1024], data.x_val, data.y_val,
                             data.x_test[:512], data.y_test[:512], 10)
        for fn in (engine, plain):  # warm-up: imports, cuDNN/oneDNN kernel selection, allocator
            fn(deep_merge(cfg, {"train": {"epochs": 1}}), warm, device, precision)
        row = {}
        for label, fn in (("engine", engine), ("plain", plain)):
            clock = fn(cfg, data, device, precision)
            wall = clock.points[-1][0]
            row[label] = {"wall_s": wall, "images_per_s": train["epochs"] * len(data.y_train) / wall,
                          "final_test_accuracy": clock.points[-1][1],
                          f"seconds_to_{spec['target']:.0%}": clock.time_to(spec["target"])}
        row["engine_over_plain"] = row["engine"]["wall_s"] / row["plain"]["wall_s"]
        results["tasks"][task] = row
        print(task, json.dumps(row, indent=1), flush=True)
    print(f"device: {name} ({precision})")
    if a.out:
        with open(a.out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
