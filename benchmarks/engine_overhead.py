"""Engine vs plain PyTorch loop: same model, data, steps and per-epoch validation, in one process.

    python benchmarks/engine_overhead.py                 # translation's CNN on mnist5k, CPU
    python benchmarks/engine_overhead.py --model lenet5 --repeats 15

Runs engine and plain loop in adjacent pairs (ABBA order) and prints each pair's ratio engine /
plain, their median (the figure to quote: a shared VM's speed drifts by 10-20 % between runs,
and adjacent runs share it) and the ratio of the minima. The
plain loop does the same work the engine does per epoch (loss and accuracy accumulation,
a validation pass), so the ratio is the cost of Lightning itself.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from convstudies.config import deep_merge, run_defaults
from convstudies.datasets import build_dataset
from convstudies.engine.batches import TensorBatches
from convstudies.engine.train import fit, prepare_run_data, resolve_device, resolve_precision
from convstudies.models import build_model

MODELS = {
    "cnn": {"name": "cnn", "head": "global_max", "blocks": [
        {"filters": 8, "kernel": 5, "pool": "max", "norm": True}, {"filters": 16, "kernel": 3, "pool": "max", "norm": True},
        {"filters": 32, "kernel": 3, "norm": True}]},
    "mlp": {"name": "mlp", "depth": 2, "width": 256},
    "lenet5": {"name": "lenet5"},
}


def plain_loop(cfg, data, device) -> float:
    model = build_model(cfg["model"], data.in_shape, data.num_classes, seed=cfg["seed"]).to(device)
    if data.x_train.dim() == 4:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=cfg["train"]["lr"])
    batches = TensorBatches(data.x_train, data.y_train, cfg["train"]["batch_size"], seed=cfg["seed"])
    t0 = time.perf_counter()
    for _ in range(cfg["train"]["epochs"]):
        model.train()
        loss_sum, correct = torch.zeros((), device=device), torch.zeros((), device=device)
        for x, y in batches:
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.detach() * len(y)
            correct += (logits.argmax(1) == y).sum()
        model.eval()
        with torch.no_grad():
            val = model(data.x_val)
            float(F.cross_entropy(val, data.y_val)), float((val.argmax(1) == data.y_val).float().mean())
        float(loss_sum), float(correct)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=sorted(MODELS), default="cnn")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--accelerator", default="auto")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    device = resolve_device(a.accelerator)
    cfg = deep_merge(run_defaults(), {"seed": 0, "data": {"dataset": "mnist5k", "canvas": 0 if a.model == "lenet5" else 36},
                                      "model": MODELS[a.model],
                                      "train": {"epochs": a.epochs, "batch_size": a.batch_size, "lr": 0.003}})
    data = prepare_run_data(build_dataset("mnist5k").to(device), cfg["data"], 0)
    precision = resolve_precision("32-true", device)
    fit(cfg, data, device, precision)  # warm-up: imports, oneDNN kernel selection
    plain_loop(cfg, data, device)
    timed = {"engine": lambda: fit(cfg, data, device, precision)[1], "plain": lambda: plain_loop(cfg, data, device)}
    times = {"engine": [], "plain": []}
    for i in range(a.repeats):  # ABBA order: a drift in the machine's speed hits both sides alike
        for side in ("engine", "plain") if i % 2 == 0 else ("plain", "engine"):
            times[side].append(timed[side]())
    engine_t, plain_t = times["engine"], times["plain"]
    steps = a.epochs * len(TensorBatches(data.x_train, data.y_train, a.batch_size))
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {a.threads} thread(s)"
    print(f"device: {name}; model {a.model}; {steps} steps of batch {a.batch_size} + {a.epochs} validation passes")
    print(f"{a.repeats} pairs; the ratio of each pair (adjacent runs share the machine's state):")
    ratios = sorted(e / q for e, q in zip(engine_t, plain_t))
    print("  " + " ".join(f"{r:.3f}" for r in ratios))
    e, q = min(engine_t), min(plain_t)
    print(f"median pair ratio {statistics.median(ratios):.3f} (quartiles {ratios[len(ratios) // 4]:.3f}-"
          f"{ratios[(3 * len(ratios)) // 4]:.3f}); minimum of each: engine {e:.3f} s, plain {q:.3f} s, ratio "
          f"{e / q:.3f} (per step: engine {1e3 * e / steps:.2f} ms, plain {1e3 * q / steps:.2f} ms)")


if __name__ == "__main__":
    main()
