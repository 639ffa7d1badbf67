"""MNIST-1D: the conv1d study's models trained by a plain PyTorch loop, batch order as the paper's or ours.

    python benchmarks/mnist1d_reference.py --seeds 0 1 2 3 4                 # development seeds
    python benchmarks/mnist1d_reference.py --seeds 1000 1001 1002 --out r.json

Greydanus (2020)'s training loop (notebooks/train.py of github.com/greydanus/mnist1d) walks through
the 4,000 training sequences in one fixed order every epoch; the engine draws a new order every
epoch. This trains the study's own MNIST-1D points (their resolved embedded configurations: the
same architectures, initial weights, optimiser, learning rate and number of steps) in a plain loop
with either order and reports validation and test accuracy: whether a gap between our numbers and
the paper's table comes from the engine, from the batch order, or from the protocol itself. It
reads no result of the workflow and decides nothing; its numbers go to RESULTS.md by hand.
"""
from __future__ import annotations

import argparse
import json
import math
import time

import pandas as pd
import torch
import torch.nn.functional as F

from convstudies.config import expand_points, load_study
from convstudies.datasets import build_dataset
from convstudies.engine.batches import TensorBatches
from convstudies.evaluations.common import accuracy_of
from convstudies.models import build_model

POINTS = [f"{m}-dataset{d}" for m in ("logistic", "mlp", "cnn") for d in ("mnist1d", "mnist1d_shuffled")]
ORDERS = {"fixed": False, "reshuffle": True}  # TensorBatches(shuffle=...): fixed = the paper's, reshuffle = the engine's


def train_plain(cfg: dict, data, order: str, steps: int | None = None) -> torch.nn.Module:
    """Adam (no weight decay, as the study) for the configuration's steps; ``steps`` overrides them."""
    tc, seed = cfg["train"], cfg["seed"]
    if (tc["optimizer"], tc["schedule"], tc["weight_decay"]) != ("adam", "constant", 0.0):
        raise ValueError(f"{cfg['model']['name']}: the paper's recipe is Adam at a constant lr without weight decay")
    torch.manual_seed(seed)
    model = build_model(cfg["model"], data.in_shape, data.num_classes, seed=seed)
    opt = torch.optim.Adam(model.parameters(), lr=tc["lr"])
    batches = TensorBatches(data.x_train, data.y_train, tc["batch_size"], shuffle=ORDERS[order], seed=seed)
    epochs = max(tc["epochs"], math.ceil(tc.get("min_steps", 0) / len(batches)))  # as the engine counts them
    total, done = steps if steps is not None else epochs * len(batches), 0
    model.train()
    while done < total:
        for x, y in batches:
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            done += 1
            if done == total:
                break
    return model


def measure(seeds: list[int], orders: list[str], points: list[str], steps: int | None) -> pd.DataFrame:
    resolved = expand_points(load_study("conv1d"), "embedded")
    rows, datasets = [], {}
    for point in points:
        cfg = resolved[point]["config"]
        name = cfg["data"]["dataset"]
        data = datasets.setdefault(name, build_dataset(name))
        for order in orders:
            for seed in seeds:
                t0 = time.perf_counter()
                model = train_plain({**cfg, "seed": seed}, data, order, steps)
                model.eval()
                for split in ("val", "test"):
                    acc = accuracy_of(model, getattr(data, f"x_{split}"), getattr(data, f"y_{split}"))
                    rows.append({"point": point, "order": order, "split": split, "seed": seed, "accuracy": acc})
                print(f"{point:28s} {order:9s} seed {seed}: val {rows[-2]['accuracy']:.3f} test "
                      f"{rows[-1]['accuracy']:.3f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return pd.DataFrame(rows)


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation over seeds of each point, order and split (accuracy in %)."""
    g = runs.assign(accuracy=runs.accuracy * 100).groupby(["point", "order", "split"], sort=False).accuracy
    return pd.DataFrame({"mean": g.mean(), "sd": g.std(ddof=1), "min": g.min(), "max": g.max(),
                         "seeds": g.size()}).round(2)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--orders", nargs="+", choices=sorted(ORDERS), default=sorted(ORDERS))
    p.add_argument("--points", nargs="+", choices=POINTS, default=POINTS)
    p.add_argument("--steps", type=int, default=None, help="override the study's steps (smoke runs only)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=None, help="write every run's accuracy as JSON here")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    runs = measure(a.seeds, a.orders, a.points, a.steps)
    print(summarise(runs).to_string())
    print(f"device: CPU, {a.threads} thread(s), seeds {a.seeds}")
    if a.out:
        with open(a.out, "w") as f:
            json.dump(runs.to_dict(orient="records"), f, indent=1)


if __name__ == "__main__":
    main()
