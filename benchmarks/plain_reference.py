"""A study's points trained by a plain PyTorch loop: is a gap to a paper the engine, the protocol or the seeds?

    python benchmarks/plain_reference.py conv1d --seeds 0 1 2 3 4          # development seeds
    python benchmarks/plain_reference.py conv1d --seeds 1000 1001 1002 --out r.json
    python benchmarks/plain_reference.py lenet5 --seeds 1000 1001 1002 --orders reshuffle

Each point's resolved embedded configuration (architecture, initial weights by seed, optimiser,
learning rate and schedule, affine distortions, number of steps) is trained by a loop of a
dozen lines instead of the engine and scored on the validation and test splits. Batches come in
the engine's order (reshuffled every epoch from the run's seed) or in one fixed order every
epoch, as Greydanus (2020)'s `notebooks/train.py` walks MNIST-1D's training set. It reads no
result of the workflow and decides nothing; its numbers go to RESULTS.md by hand.
"""
from __future__ import annotations

import argparse
import json
import time

import pandas as pd
import torch
import torch.nn.functional as F

from convstudies.config import expand_points, load_study
from convstudies.datasets import build_dataset
from convstudies.engine.batches import TensorBatches
from convstudies.engine.train import epochs_to_train
from convstudies.evaluations.common import accuracy_of
from convstudies.models import build_model
from convstudies.shifts import random_affine

POINTS = {"conv1d": [f"{m}-dataset{d}" for m in ("logistic", "mlp", "cnn") for d in ("mnist1d", "mnist1d_shuffled")],
          "lenet5": ["lenet5", "lenet5_relu_max"]}
ORDERS = {"fixed": False, "reshuffle": True}  # TensorBatches(shuffle=...): fixed = Greydanus's, reshuffle = the engine's


def train_plain(cfg: dict, data, order: str, steps: int | None = None) -> torch.nn.Module:
    """Adam without weight decay at a constant or one-cycle learning rate, as these studies train;
    ``steps`` overrides the configuration's number of steps (smoke runs)."""
    tc, seed = cfg["train"], cfg["seed"]
    if tc["optimizer"] != "adam" or tc["schedule"] not in ("constant", "onecycle") or tc["weight_decay"]:
        raise ValueError(f"{cfg['model']['name']}: this loop trains Adam, constant or one-cycle, no weight decay")
    torch.manual_seed(seed)
    model = build_model(cfg["model"], data.in_shape, data.num_classes, seed=seed)
    if data.x_train.dim() == 4:
        model = model.to(memory_format=torch.channels_last)  # as the engine (same numbers, faster)
    opt = torch.optim.Adam(model.parameters(), lr=tc["lr"])
    batches = TensorBatches(data.x_train, data.y_train, tc["batch_size"], shuffle=ORDERS[order], seed=seed)
    epochs = epochs_to_train(tc, len(batches))
    total = steps if steps is not None else epochs * len(batches)
    sched = (torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=tc["lr"], total_steps=epochs * len(batches))
             if tc["schedule"] == "onecycle" else None)
    affine, gen = tc.get("augment_affine"), torch.Generator().manual_seed(seed + 1)
    model.train()
    done = 0
    while done < total:
        for x, y in batches:
            if affine:
                x = random_affine(x, affine["translate"], affine["degrees"], affine["scale"], gen)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            done += 1
            if done == total:
                break
    return model


def measure(study: str, seeds: list[int], orders: list[str], points: list[str], steps: int | None) -> pd.DataFrame:
    resolved = expand_points(load_study(study), "embedded")
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
    p.add_argument("study", choices=sorted(POINTS))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--orders", nargs="+", choices=sorted(ORDERS), default=sorted(ORDERS))
    p.add_argument("--points", nargs="+", default=None, help="default: the study's points in POINTS")
    p.add_argument("--steps", type=int, default=None, help="override the study's steps (smoke runs only)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=None, help="write every run's accuracy as JSON here")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    points = a.points or POINTS[a.study]
    unknown = sorted(set(points) - set(POINTS[a.study]))
    if unknown:
        p.error(f"not a point of {a.study} here: {', '.join(unknown)}; choose from {', '.join(POINTS[a.study])}")
    runs = measure(a.study, a.seeds, a.orders, points, a.steps)
    print(summarise(runs).to_string())
    print(f"device: CPU, {a.threads} thread(s), seeds {a.seeds}")
    if a.out:
        with open(a.out, "w") as f:
            json.dump(runs.to_dict(orient="records"), f, indent=1)


if __name__ == "__main__":
    main()
