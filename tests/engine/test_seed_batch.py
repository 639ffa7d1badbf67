"""Seed-batched training equals separate training: the seeds of one grid point as one vectorised model."""
import copy

import pytest
import torch

from convstudies.engine.seed_batch import batchable_reason, fit_seed_batch
from convstudies.engine.train import fit, prepare_run_data

SEEDS = [0, 1, 2]


def _cfgs(run_cfg, **train):
    base = copy.deepcopy(run_cfg)
    base["train"].update(train)
    return [{**copy.deepcopy(base), "seed": s} for s in SEEDS]


@pytest.mark.parametrize("model, train", [
    # an MLP with Adam and a cosine schedule, shifted training digits; a CNN with SGD, momentum and weight decay
    ({"name": "mlp", "depth": 2, "width": 32}, {"optimizer": "adam", "lr": 0.003, "schedule": "cosine",
                                                  "augment_shift": 1}),
    ({"name": "cnn", "head": "flatten", "blocks": [{"filters": 4, "kernel": 3, "pool": "max"}]},
     {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 1e-4, "schedule": "constant"}),
])
def test_seed_batched_runs_equal_separate_runs_after_100_steps(run_cfg, digits_data, model, train):
    run_cfg["model"] = model
    run_cfg["data"]["train_fraction"] = 0.5  # each seed draws its own training subset
    cfgs = _cfgs(run_cfg, epochs=1, min_steps=100, batch_size=32, **train)
    datas = [prepare_run_data(digits_data, c["data"], c["seed"]) for c in cfgs]
    assert len({len(d.y_train) for d in datas}) == 1 and not torch.equal(datas[0].y_train, datas[1].y_train)
    views, _ = fit_seed_batch(cfgs, datas, torch.device("cpu"))
    for cfg, data, view in zip(cfgs, datas, views):
        module, _ = fit(cfg, data, torch.device("cpu"))
        alone = module.model.state_dict()
        batched = view.model.state_dict()
        assert alone.keys() == batched.keys()
        for k in alone:
            assert (alone[k] - batched[k]).abs().max() <= 1e-4, (cfg["seed"], k)
        assert len(view.history) == len(module.history) >= 3  # 100 steps of 28 per epoch: 4 epochs
        for a, b in zip(module.history, view.history):
            assert a["train_loss"] == pytest.approx(b["train_loss"], abs=1e-4)
            assert a["val_acc"] == pytest.approx(b["val_acc"], abs=1e-3)


def test_the_seeds_differ_from_each_other(run_cfg, digits_data):
    run_cfg["model"] = {"name": "mlp", "depth": 1, "width": 16}
    cfgs = _cfgs(run_cfg, epochs=1)
    views, _ = fit_seed_batch(cfgs, [prepare_run_data(digits_data, c["data"], c["seed"]) for c in cfgs],
                              torch.device("cpu"))
    w = [v.model.state_dict()["net.0.weight"] if "net.0.weight" in v.model.state_dict()
         else next(iter(v.model.state_dict().values())) for v in views]
    assert not torch.equal(w[0], w[1]) and not torch.equal(w[1], w[2])


def test_models_with_batch_norm_or_dropout_take_the_separate_path(run_cfg, digits_data):
    from convstudies.models import build_model

    bn = build_model({"name": "cnn", "head": "flatten", "blocks": [{"filters": 4, "norm": True}]}, (1, 8, 8), 10, 0)
    assert "batch-norm" in batchable_reason(bn, run_cfg)
    plain = build_model(run_cfg["model"], (1, 8, 8), 10, 0)
    assert batchable_reason(plain, run_cfg) is None
    assert "other runs' weights" in batchable_reason(plain, {**run_cfg, "train": {"init_from": "src"}})
    run_cfg["model"] = {"name": "cnn", "head": "flatten", "blocks": [{"filters": 4, "norm": True}]}
    cfgs = _cfgs(run_cfg)
    with pytest.raises(ValueError, match="cannot be seed-batched: the model has buffers"):
        fit_seed_batch(cfgs, [prepare_run_data(digits_data, c["data"], c["seed"]) for c in cfgs], torch.device("cpu"))
