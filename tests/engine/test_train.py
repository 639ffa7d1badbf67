import json

import numpy as np
import pytest
import torch

from convstudies.engine.batches import TensorBatches
from convstudies.engine.train import balanced_subset, is_complete, train, write_run_dir


def test_same_seed_gives_the_same_metrics_on_cpu(run_cfg, digits_data):
    a = train(run_cfg, data=digits_data)
    b = train(run_cfg, data=digits_data)
    assert a["status"] == "ok"
    assert a["epochs"] == b["epochs"] and a["evaluations"] == b["evaluations"]
    c = train({**run_cfg, "seed": 1}, data=digits_data)
    assert c["epochs"] != a["epochs"]


def test_training_learns_and_records_every_epoch(run_cfg, digits_data):
    run_cfg["train"]["epochs"] = 3
    m = train(run_cfg, data=digits_data)
    assert [e["epoch"] for e in m["epochs"]] == [0, 1, 2]
    assert {"train_loss", "train_acc", "val_loss", "val_acc"} <= set(m["epochs"][-1])
    acc = next(r["value"] for r in m["evaluations"] if r["metric"] == "accuracy")
    assert acc > 0.5  # chance is 0.1
    assert m["params"] == (4 * 9 + 4) + (4 * 4 * 4 * 10 + 10)  # conv 1->4 3x3, then 4x4x4 features -> 10


def test_a_nan_run_is_recorded_as_diverged_not_crashed(run_cfg, digits_data, tmp_path):
    run_cfg["train"].update(optimizer="sgd", lr=1e30, momentum=0.0, epochs=3)
    m = train(run_cfg, data=digits_data, run_dir=tmp_path / "run")
    assert m["status"] == "diverged" and m["diverged_epoch"] == 0
    assert len(m["epochs"]) == 1  # training stopped at the first non-finite epoch
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["status"] == "diverged"


def test_run_directory_is_complete_and_never_overwritten(run_cfg, digits_data, tmp_path):
    run_dir = tmp_path / "seed0"
    train(run_cfg, data=digits_data, run_dir=run_dir)
    assert is_complete(run_dir)
    assert {p.name for p in run_dir.iterdir()} == {"config.json", "metrics.json", "model.pt", "provenance.json",
                                                   "per_example.npz", "metrics.csv"}
    metrics = json.loads((run_dir / "metrics.json").read_text())
    acc = next(r for r in metrics["evaluations"] if r["metric"] == "accuracy")
    with np.load(run_dir / "per_example.npz") as npz:  # one value per test example, the row keeps its key
        right = npz[acc["examples"]]
    assert right.shape == (len(digits_data.y_test),) and set(np.unique(right)) <= {0.0, 1.0}
    assert right.mean() == pytest.approx(acc["value"])
    state = torch.load(run_dir / "model.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    prov = json.loads((run_dir / "provenance.json").read_text())
    assert {"versions", "git", "hardware", "runtime"} <= set(prov) and prov["versions"]["torch"]
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        write_run_dir(run_dir, run_cfg, {}, torch.nn.Linear(1, 1), {})


def test_tensor_batches_cover_the_data_once_per_pass_reproducibly():
    x, y = torch.arange(10.0)[:, None], torch.arange(10)
    a = TensorBatches(x, y, batch_size=4, seed=1)
    b = TensorBatches(x, y, batch_size=4, seed=1)
    assert len(a) == 3
    first = [yb.tolist() for _, yb in a]
    assert first == [yb.tolist() for _, yb in b]
    assert sorted(sum(first, [])) == list(range(10))
    assert [yb.tolist() for _, yb in a] != first  # reshuffled on the next pass


def test_balanced_subset_keeps_the_class_balance():
    y = torch.arange(10).repeat(20)
    idx = balanced_subset(y, 0.25, None, seed=0)
    assert torch.bincount(y[idx]).tolist() == [5] * 10
    assert len(balanced_subset(y, 1.0, 30, seed=0)) == 30
    assert not torch.equal(balanced_subset(y, 0.25, None, 0), balanced_subset(y, 0.25, None, 1))


def test_initial_weights_load_except_the_classifier_and_freeze(run_cfg, digits_data, tmp_path):
    from convstudies.engine.train import load_initial_weights
    from convstudies.models import create_model

    src = tmp_path / "src"
    train(run_cfg, data=digits_data, run_dir=src)
    kw = {k: v for k, v in run_cfg["model"].items() if k != "name"}
    model = create_model("cnn", in_shape=(1, 8, 8), num_classes=5, **kw)  # another head size
    fresh = load_initial_weights(model, src / "model.pt", freeze_backbone=True)
    assert fresh == ["head.1.bias", "head.1.weight"]
    saved = torch.load(src / "model.pt", weights_only=True)
    assert torch.equal(model.state_dict()["features.0.0.weight"], saved["features.0.0.weight"])
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["head.1.weight", "head.1.bias"]
    with pytest.raises(FileNotFoundError, match="pretraining run must finish first"):
        load_initial_weights(model, tmp_path / "missing.pt")


def test_provenance_lists_every_distribution_and_the_cuda_builds(run_cfg, digits_data, tmp_path):
    train(run_cfg, data=digits_data, run_dir=tmp_path / "run")
    prov = json.loads((tmp_path / "run" / "provenance.json").read_text())
    dists = {k.lower() for k in prov["versions"]["distributions"]}
    assert {"scikit-learn", "mlxtend", "mnist1d", "torch", "pytorch-lightning"} <= dists  # the datasets' packages too
    assert {"cuda", "cudnn"} <= set(prov["versions"]) and prov["git"]["revision"]
    assert prov["runtime"]["device"] == "cpu" and "gpu" not in prov["hardware"]


def test_provenance_records_the_revision_the_process_started_from(run_cfg, digits_data, tmp_path, monkeypatch):
    from convstudies.engine import provenance

    heads = iter(["started-here", "committed-later", "committed-later"])
    monkeypatch.setattr(provenance, "_AT_START", None)  # as in a fresh process
    monkeypatch.setattr(provenance, "git_revision", lambda: {"revision": next(heads), "dirty": False})
    train(run_cfg, data=digits_data, run_dir=tmp_path / "a", accelerator="cpu")
    train(run_cfg, data=digits_data, run_dir=tmp_path / "b", accelerator="cpu")
    for run in "ab":  # both written after the (simulated) later commit
        prov = json.loads((tmp_path / run / "provenance.json").read_text())
        assert prov["git"] == {"revision": "started-here", "dirty": False}


def test_val_every_validates_every_kth_epoch_only(run_cfg, digits_data):
    run_cfg["train"].update(epochs=5, val_every=2)
    m = train(run_cfg, data=digits_data)
    assert [e["epoch"] for e in m["epochs"]] == [0, 1, 2, 3, 4]
    assert ["val_acc" in e for e in m["epochs"]] == [False, True, False, True, False]
    assert all("train_loss" in e for e in m["epochs"])
