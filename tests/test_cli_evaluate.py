"""Evaluating a finished run on MNIST IDX files (built here in the real format) from the command line."""
import json

import numpy as np
import pytest
import torch

from convstudies.cli import main
from convstudies.datasets.vision import read_idx
from convstudies.engine.runs import load_run
from convstudies.engine.train import train
from helpers.idx import write_idx


@pytest.fixture(scope="module")
def mnist_like():
    """28x28 uint8 images of two easy classes: a bright top half (0) or bottom half (1)."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    x = rng.integers(0, 40, (200, 28, 28))
    for i, c in enumerate(y):
        x[i, :14] += 200 * (c == 0)
        x[i, 14:] += 200 * (c == 1)
    return x.clip(0, 255), y


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, mnist_like):
    from convstudies.config import deep_merge, run_defaults
    from convstudies.datasets.base import TensorDataset

    x, y = mnist_like
    xt, yt = torch.tensor(x[:, None] / 255.0, dtype=torch.float32), torch.tensor(y)
    ds = TensorDataset("twohalves", xt, yt, xt, yt, xt, yt, 10)
    cfg = deep_merge(run_defaults(), {"seed": 0, "data": {"dataset": "mnist5k", "canvas": 32},
                                      "model": {"name": "mlp", "depth": 1, "width": 16},
                                      "train": {"epochs": 5, "lr": 0.01}})
    run_dir = tmp_path_factory.mktemp("runs") / "seed0"
    train(cfg, data=ds, run_dir=run_dir)
    return run_dir


@pytest.mark.parametrize("layout", ["flat", "gz", "torchvision"])
def test_read_idx_in_every_layout(tmp_path, mnist_like, layout):
    x, y = mnist_like
    root = tmp_path / "mnist"
    target = root / "MNIST" / "raw" if layout == "torchvision" else root
    write_idx(target, "test", x, y, gz=layout == "gz")
    xs, ys = read_idx(root, "test")
    assert xs.shape == (200, 1, 28, 28) and xs.max() <= 1.0
    assert torch.equal(ys, torch.tensor(y))
    np.testing.assert_allclose(xs[3, 0].numpy() * 255, x[3], atol=1e-4)


def test_cli_evaluates_a_run_on_idx_files_and_writes_the_accuracy(tmp_path, trained_run, mnist_like, capsys):
    write_idx(tmp_path / "mnist", "test", *mnist_like)
    assert main(["evaluate", str(trained_run), "--idx-dir", str(tmp_path / "mnist")]) == 0
    out = capsys.readouterr().out
    result = json.loads((trained_run / "evaluations" / "mnist_idx-test.json").read_text())
    assert result["n"] == 200 and result["accuracy"] > 0.9
    assert f"{result['accuracy']:.4f}" in out
    # a second evaluation never overwrites the first
    assert main(["evaluate", str(trained_run), "--idx-dir", str(tmp_path / "mnist")]) == 2
    assert "exists" in capsys.readouterr().err


def test_clear_errors_for_missing_files_and_damaged_weights(tmp_path, trained_run, capsys):
    assert main(["evaluate", str(trained_run), "--idx-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "a.json")]) == 2
    assert "t10k-images-idx3-ubyte (or t10k-images-idx3-ubyte.gz) not found" in capsys.readouterr().err
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in ("config.json", "metrics.json"):
        (broken / f).write_text((trained_run / f).read_text())
    (broken / "model.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="(?s)cannot load weights .*model.pt: the file is damaged.*Retrain the run"):
        load_run(broken)
    with pytest.raises(FileNotFoundError, match="not a finished run directory: missing config.json, metrics.json, model.pt"):
        load_run(tmp_path)  # no files at all


def test_a_missing_run_is_named_before_any_data_is_read(tmp_path, capsys, monkeypatch):
    import convstudies.datasets as datasets

    monkeypatch.setattr(datasets, "build_dataset", lambda *a, **k: pytest.fail("built a dataset for a missing run"))
    assert main(["evaluate", str(tmp_path / "no-such-run"), "--dataset", "mnist5k"]) == 2
    assert f"{tmp_path / 'no-such-run'} does not exist" in capsys.readouterr().err


def test_random_bytes_as_idx_files_get_a_reason(tmp_path, trained_run, capsys):
    import numpy as np

    d = tmp_path / "junk"
    d.mkdir()
    rng = np.random.default_rng(0)
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (d / name).write_bytes(rng.integers(0, 256, 5000, dtype=np.uint8).tobytes())
    assert main(["evaluate", str(trained_run), "--idx-dir", str(d), "--out", str(tmp_path / "a.json")]) == 2
    err = capsys.readouterr().err
    assert "cannot read MNIST IDX files" in err and "they are not IDX files" in err and ": ;" not in err
