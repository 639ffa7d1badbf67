"""Learning-rate schedules (warm-up, multistep, onecycle) and the affine distortion."""
import math

import pytest
import torch

from convstudies.engine.module import lr_factor
from convstudies.shifts import random_affine


def test_multistep_with_warmup_follows_he_et_al():
    c = {"lr": 0.1, "schedule": "multistep", "milestones": [32000, 48000], "warmup_steps": 400, "warmup_lr": 0.01}
    f = lr_factor(c, 64000)
    assert [round(0.1 * f(t), 6) for t in (0, 399, 400, 31999, 32000, 47999, 48000, 63999)] == \
        [0.01, 0.01, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001]


def test_cosine_after_warmup_and_constant():
    f = lr_factor({"lr": 0.1, "schedule": "cosine", "warmup_steps": 10, "warmup_lr": 0.05}, 100)
    assert f(5) == 0.5 and f(0) == 0.5
    assert f(10) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.1)))
    assert f(100) == pytest.approx(0.0)
    assert lr_factor({"lr": 0.1, "schedule": "constant"}, 100)(50) == 1.0


def test_onecycle_refuses_warmup():
    import torch.nn as nn

    from convstudies.engine.module import Classifier

    cfg = {"optimizer": "adam", "lr": 0.01, "weight_decay": 0.0, "momentum": 0.9, "schedule": "onecycle",
           "epochs": 2, "warmup_steps": 5}
    module = Classifier(nn.Linear(4, 2), cfg, 2, steps_per_epoch=10, seed=0)
    with pytest.raises(ValueError, match="warmup_steps does not combine with schedule onecycle"):
        module.configure_optimizers()
    cfg["warmup_steps"] = 0
    sched = module.configure_optimizers()["lr_scheduler"]
    assert isinstance(sched, torch.optim.lr_scheduler.OneCycleLR) and sched.total_steps == 20


def test_random_affine_identity_and_shape():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(8, 1, 28, 28)
    assert torch.allclose(random_affine(x, 0.0, 0.0, 0.0, g), x, atol=1e-5)
    y = random_affine(x, 2.0, 10.0, 0.1, torch.Generator().manual_seed(1))
    assert y.shape == x.shape and not torch.allclose(y, x)
    # the same generator state gives the same distortions (resume, determinism)
    assert torch.equal(y, random_affine(x, 2.0, 10.0, 0.1, torch.Generator().manual_seed(1)))


def test_random_affine_pure_shift_moves_content_by_whole_pixels():
    x = torch.zeros(200, 1, 16, 16)
    x[:, :, 8, 8] = 1.0
    y = random_affine(x, 2.0, 0.0, 0.0, torch.Generator().manual_seed(3))
    rows = (y[:, 0].sum(2) * torch.arange(16)).sum(1) / y[:, 0].sum((1, 2))
    cols = (y[:, 0].sum(1) * torch.arange(16)).sum(1) / y[:, 0].sum((1, 2))
    assert (rows - 8).abs().max() <= 2.0 + 1e-4 and (cols - 8).abs().max() <= 2.0 + 1e-4
    assert (rows - 8).abs().max() > 1.0  # shifts reach beyond one pixel
