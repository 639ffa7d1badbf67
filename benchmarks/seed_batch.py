"""Seed-batched engine vs the same seeds one after another (engine and plain loops), in one process.

    python benchmarks/seed_batch.py                      # mlp and lenet5, 3 seeds, CPU
    python benchmarks/seed_batch.py --models mlp --seeds 5 --repeats 5

For each model family: the wall time of one seed-batched fit of N seeds
(convstudies/engine/seed_batch.py), of N separate engine fits and of N plain PyTorch loops doing
the same work, each the minimum over alternating repeats; and the ratios separate / batched
(above 1: batching pays). Only models without batch norm or dropout can be seed-batched.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine_overhead import plain_loop  # noqa: E402

from convstudies.config import deep_merge, run_defaults  # noqa: E402
from convstudies.datasets import build_dataset  # noqa: E402
from convstudies.engine.seed_batch import fit_seed_batch  # noqa: E402
from convstudies.engine.train import fit, prepare_run_data, resolve_device  # noqa: E402

MODELS = {
    "mlp": ({"name": "mlp", "depth": 2, "width": 256}, {}),
    "cnn": ({"name": "cnn", "head": "flatten", "blocks": [{"filters": 8, "kernel": 5, "pool": "max"},
                                                           {"filters": 16, "kernel": 3, "pool": "max"}]}, {}),
    "lenet5": ({"name": "lenet5"}, {}),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", choices=sorted(MODELS), default=["mlp", "lenet5"])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--accelerator", default="auto")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    device = resolve_device(a.accelerator)
    where = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {a.threads} thread(s)"
    print(f"device: {where}; {a.seeds} seeds, {a.epochs} epochs of batch {a.batch_size} on mnist5k; "
          f"minimum of {a.repeats} alternating repeats")
    raw = build_dataset("mnist5k").to(device)
    for name in a.models:
        model, extra = MODELS[name]
        base = deep_merge(run_defaults(), {"data": {"dataset": "mnist5k"}, "model": model,
                                           "train": {"epochs": a.epochs, "batch_size": a.batch_size, "lr": 0.003,
                                                     **extra}})
        cfgs = [{**base, "seed": s} for s in range(a.seeds)]
        datas = [prepare_run_data(raw, c["data"], c["seed"]) for c in cfgs]

        def batched():
            return fit_seed_batch(cfgs, datas, device)[1]

        def separate():
            return sum(fit(c, d, device)[1] for c, d in zip(cfgs, datas))

        def plain():
            return sum(plain_loop(c, d, device) for c, d in zip(cfgs, datas))

        times = {"batched": [], "separate": [], "plain": []}
        for fn in (batched, separate, plain):  # warm-up: kernels, allocator
            fn()
        for _ in range(a.repeats):
            for key, fn in (("batched", batched), ("separate", separate), ("plain", plain)):
                t0 = time.perf_counter()
                fn()
                times[key].append(time.perf_counter() - t0)
        b, s, q = (min(times[k]) for k in ("batched", "separate", "plain"))
        print(f"{name:7s} seed-batched {b:.2f} s  separate engine {s:.2f} s  separate plain loops {q:.2f} s  "
              f"speed-up over separate engine {s / b:.2f}x, over plain loops {q / b:.2f}x")


if __name__ == "__main__":
    main()
