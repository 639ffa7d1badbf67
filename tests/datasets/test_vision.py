"""Full-scale datasets through the real loading code, on small files in the real formats (no network)."""
import pickle
import subprocess

import numpy as np
import pytest
import torch

from convstudies.datasets import build_dataset, sources, vision

from conftest import snakemake_cmd
from helpers.idx import write_idx


def fake_idx(root, folder, n_train=200, n_test=50):
    rng = np.random.default_rng(1)
    for split, n in (("train", n_train), ("test", n_test)):
        write_idx(root / folder, split, rng.integers(0, 256, (n, 28, 28)), np.arange(n) % 10, gz=split == "test")


def fake_cifar(root, n_per_batch=30):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(2)
    for name in sources.CIFAR_NAMES:
        d = {b"data": rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8),
             b"labels": list(np.arange(n_per_batch) % 10)}
        (folder / name).write_bytes(pickle.dumps(d))
    return folder


@pytest.mark.parametrize("name,folder", [("mnist", "MNIST/raw"), ("fashion_mnist", "FashionMNIST/raw")])
def test_idx_datasets_load_with_a_stratified_validation_split(tmp_path, name, folder):
    fake_idx(tmp_path, folder)
    ds = build_dataset(name, root=tmp_path)
    assert ds.x_train.shape == (180, 1, 28, 28) and ds.x_val.shape == (20, 1, 28, 28)
    assert ds.x_test.shape == (50, 1, 28, 28) and 0 <= float(ds.x_train.min()) and float(ds.x_train.max()) <= 1
    assert torch.bincount(ds.y_val).tolist() == [2] * 10


def test_cifar10_python_batches_load_normalised(tmp_path):
    fake_cifar(tmp_path)
    ds = vision.load_full("cifar10", tmp_path, download=False)
    assert ds.x_train.shape == (135, 3, 32, 32) and ds.x_val.shape == (15, 3, 32, 32)
    assert ds.x_test.shape == (30, 3, 32, 32)
    assert abs(float(ds.x_train[:, 0].mean()) - (0.5 - 0.4914) / 0.2470) < 0.1


def test_a_corrupt_cifar_batch_is_named(tmp_path):
    folder = fake_cifar(tmp_path)
    (folder / "data_batch_3").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="cannot read CIFAR-10 batch .*data_batch_3"):
        vision.load_full("cifar10", tmp_path, download=False)


def test_offline_each_missing_file_gets_one_message(tmp_path):
    fake_idx(tmp_path, "MNIST/raw")
    (tmp_path / "MNIST/raw/t10k-labels-idx1-ubyte.gz").unlink()
    msgs = sources.unavailable({"mnist", "cifar10", "mnist5k"}, tmp_path, is_online=lambda host: False)
    assert len(msgs) == 1 + 6
    assert msgs[0].startswith("cifar10: data_batch_1 missing; expected at")
    assert any("mnist: t10k-labels-idx1-ubyte missing; expected at" in m and "download=True" in m for m in msgs)
    assert sources.unavailable({"mnist"}, tmp_path, is_online=lambda host: True) == []
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte missing"):
        vision.load_full("mnist", tmp_path, download=False)


def test_workflow_stops_before_training_when_full_data_are_missing_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVSTUDIES_OFFLINE", "1")
    out = subprocess.run(snakemake_cmd(tmp_path, "-n", "--cores", "1", "--config", "scale=full",
                                       "studies=[translation]", f"data_root={tmp_path / 'nodata'}"),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert "full-scale data are missing and cannot be downloaded (offline)" in text
    assert text.count("mnist: ") == 4  # one line per missing file
