"""The evaluations every study can name: accuracy, and accuracy and consistency under shifts.

Each row of a test-set number carries ``per_example``: the value for every test example
(1.0 where the prediction is right or consistent), from which intervals that count test-set
sampling, paired across arms, are computed (:mod:`convstudies.intervals`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..shifts import DIRECTIONS, random_shifts, translate
from . import register_evaluation


@torch.inference_mode()
def predict(model, x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Logits for ``x`` in batches (model in eval mode)."""
    model.eval()
    return torch.cat([model(x[i:i + batch_size]).float() for i in range(0, len(x), batch_size)])


def correct(model, x, y) -> torch.Tensor:
    """1.0 for every example the model classifies right, else 0.0."""
    return (predict(model, x).argmax(1) == y).float()


def accuracy_of(model, x, y) -> float:
    return float(correct(model, x, y).mean())


def rate_row(values: torch.Tensor, **row) -> dict:
    """A tidy row whose value is the mean of per-example values, which it keeps as ``per_example``."""
    return {**row, "value": float(values.mean()), "per_example": values}


@register_evaluation
def accuracy(model, data, cfg, split: str = "test") -> list[dict]:
    """Accuracy and cross-entropy on a split."""
    x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
    logits = predict(model, x)
    return [
        rate_row((logits.argmax(1) == y).float(), condition=split, metric="accuracy"),
        {"condition": split, "metric": "loss", "value": float(F.cross_entropy(logits, y)),
         "per_example": F.cross_entropy(logits, y, reduction="none")},
    ]


@register_evaluation
def shift_sweep(model, data, cfg, shifts=(0, 2, 4, 6, 8), directions=("right", "left", "down", "up")) -> list[dict]:
    """Test accuracy with every test image shifted by ``s`` pixels in each direction."""
    rows = []
    for d in directions:
        uy, ux = DIRECTIONS[d]
        for s in shifts:
            right = correct(model, translate(data.x_test, uy * s, ux * s), data.y_test)
            rows.append(rate_row(right, condition="shift", shift=s, direction=d, metric="accuracy"))
    return rows


@register_evaluation
def shift_consistency(model, data, cfg, max_shifts=(2, 4, 8), seed: int = 1234) -> list[dict]:
    """Fraction of test images whose prediction is the same under two independent random shifts."""
    gen = torch.Generator(device=data.x_test.device)
    gen.manual_seed(seed)
    rows = []
    for m in max_shifts:
        x = data.x_test
        a = predict(model, translate(x, *random_shifts(len(x), m, gen, x.device))).argmax(1)
        b = predict(model, translate(x, *random_shifts(len(x), m, gen, x.device))).argmax(1)
        rows.append(rate_row((a == b).float(), condition="consistency", shift=m, metric="consistency"))
    return rows


@register_evaluation
def random_shift_accuracy(model, data, cfg, max_shifts=(8,), seed: int = 4321) -> list[dict]:
    """Test accuracy with every test image shifted by its own random offset of up to ``m`` pixels per axis."""
    gen = torch.Generator(device=data.x_test.device)
    gen.manual_seed(seed)
    rows = []
    for m in max_shifts:
        x = translate(data.x_test, *random_shifts(len(data.x_test), m, gen, data.x_test.device))
        rows.append(rate_row(correct(model, x, data.y_test), condition="random_shift", shift=m, metric="accuracy"))
    return rows
