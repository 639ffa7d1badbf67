"""Per-epoch checkpoints: a run killed mid-training resumes to the very run it would have been."""
import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import pytorch_lightning as pl
import torch
from conftest import REPO

from convstudies.engine.checkpoints import RunState, resume_from, run_key
from convstudies.engine.train import fit, prepare_run_data, train

# The child trains one run; with STALL it hangs mid-epoch 3 (after the checkpoint of epoch 2
# was written) until the test kills it with SIGKILL.
CHILD = r"""
import json, os, sys, time
from pathlib import Path
import pytorch_lightning as pl
import torch
torch.set_num_threads(1)
from convstudies.datasets.embedded import digits
from convstudies.engine import checkpoints
from convstudies.engine.train import train

cfg, run_dir, ckpt_dir = json.loads(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])

class Stall(pl.Callback):
    def on_train_batch_end(self, trainer, *args):
        if trainer.current_epoch == 2 and trainer.fit_loop.epoch_loop.batch_progress.current.completed == 1:  # a group of batches into epoch 3
            (ckpt_dir / "stalled").touch()
            time.sleep(600)

if os.environ.get("STALL"):
    made = checkpoints.callbacks
    checkpoints.callbacks = lambda *a: made(*a) + [Stall()]
train(cfg, data=digits(), run_dir=run_dir, accelerator="cpu", checkpoint_dir=ckpt_dir)
"""


@pytest.fixture
def resume_cfg(run_cfg):
    """Shuffled batches, shift augmentation, dropout and a per-step cosine schedule over 5 epochs."""
    run_cfg["model"]["dropout"] = 0.3
    run_cfg["train"].update(epochs=5, schedule="cosine", augment_shift=1, checkpoint=True)
    return run_cfg


def child(cfg, run_dir, ckpt_dir, stall=False):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    if stall:
        env["STALL"] = "1"
    return subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(cfg), str(run_dir), str(ckpt_dir)], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_a_run_killed_mid_training_resumes_bit_identical(resume_cfg, digits_data, tmp_path):
    whole = train({**resume_cfg, "train": {**resume_cfg["train"], "checkpoint": False}}, data=digits_data,
                  run_dir=tmp_path / "whole", accelerator="cpu")
    run_dir, ckpt_dir = tmp_path / "point" / "run", tmp_path / ".checkpoints" / "point" / "run"
    killed = child(resume_cfg, run_dir, ckpt_dir, stall=True)
    try:
        deadline = time.time() + 240
        while not (ckpt_dir / "stalled").exists():
            assert killed.poll() is None, killed.communicate()[0]
            assert time.time() < deadline, "the child never reached epoch 3"
            time.sleep(0.2)
    finally:
        os.kill(killed.pid, signal.SIGKILL)
        killed.communicate()
    assert killed.returncode == -signal.SIGKILL
    assert (ckpt_dir / "last.ckpt").exists() and not run_dir.exists()
    assert any(p.name.startswith("convstudies-log-") for p in ckpt_dir.iterdir())  # the killed run's log: here
    assert torch.load(ckpt_dir / "last.ckpt", weights_only=True)["epoch"] == 1  # epochs 0 and 1 were saved

    resumed = child(resume_cfg, run_dir, ckpt_dir)
    out = resumed.communicate(timeout=300)[0]
    assert resumed.returncode == 0, out
    assert "resuming from" in out and "(epoch 2 done)" in out

    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert [e["epoch"] for e in metrics["epochs"]] == [0, 1, 2, 3, 4]
    assert metrics["epochs"] == whole["epochs"] and metrics["evaluations"] == whole["evaluations"]
    mine = torch.load(run_dir / "model.pt", weights_only=True)
    ref = torch.load(tmp_path / "whole" / "model.pt", weights_only=True)
    assert mine.keys() == ref.keys() and all(torch.equal(mine[k], ref[k]) for k in ref)
    assert rows(run_dir / "metrics.csv") == rows(tmp_path / "whole" / "metrics.csv")
    assert json.loads((run_dir / "provenance.json").read_text())["runtime"]["resumed_at_epoch"] == 2
    assert not ckpt_dir.exists()  # removed once the run directory was written


def test_a_checkpoint_of_another_run_is_not_resumed(resume_cfg, digits_data, tmp_path, capsys):
    resume_cfg["train"]["epochs"] = 2
    other = {**resume_cfg, "seed": 1}
    ckpt_dir = tmp_path / ".checkpoints" / "run"
    data = prepare_run_data(digits_data, other["data"], other["seed"])
    fit(other, data, torch.device("cpu"), checkpoint_dir=ckpt_dir, run_key=run_key(other))
    assert (ckpt_dir / "last.ckpt").exists()

    m = train(resume_cfg, data=digits_data, run_dir=tmp_path / "run", accelerator="cpu", checkpoint_dir=ckpt_dir)
    out = capsys.readouterr().out
    assert f"belongs to run {run_key(other)}, not {run_key(resume_cfg)}" in out and "from scratch" in out
    fresh = train({**resume_cfg, "train": {**resume_cfg["train"], "checkpoint": False}}, data=digits_data)
    assert m["epochs"] == fresh["epochs"] and m["evaluations"] == fresh["evaluations"]
    assert not ckpt_dir.exists()
    with pytest.raises(ValueError, match="refusing to resume run seed0-a from a checkpoint of run seed1-b"):
        RunState("seed0-a").on_load_checkpoint(None, None, {"convstudies": {"run_key": "seed1-b"}})

    broken = tmp_path / "broken"  # a truncated checkpoint is not resumed either
    broken.mkdir()
    (broken / "last.ckpt").write_bytes(b"PK\x03\x04 cut short")
    assert resume_from(broken, "seed0-a") is None and not (broken / "last.ckpt").exists()
    assert "cannot read checkpoint" in capsys.readouterr().out


def test_checkpoints_live_beside_the_run_and_are_removed_when_it_is_written(resume_cfg, digits_data, tmp_path,
                                                                            monkeypatch):
    resume_cfg["train"]["epochs"] = 2
    seen = []

    class Look(pl.Callback):  # records what is on disk at each epoch's start
        def on_train_epoch_start(self, trainer, pl_module):
            seen.append(sorted(p.name for p in (tmp_path / "point" / ".checkpoints" / "run").glob("*.ckpt")))

    import convstudies.engine.checkpoints as ck

    made = ck.callbacks
    monkeypatch.setattr(ck, "callbacks", lambda *a: made(*a) + [Look()])
    m = train(resume_cfg, data=digits_data, run_dir=tmp_path / "point" / "run", accelerator="cpu")
    assert seen[0] == [] and "last.ckpt" in seen[1]
    assert not (tmp_path / "point" / ".checkpoints" / "run").exists()
    csv_rows = rows(tmp_path / "point" / "run" / "metrics.csv")
    assert [int(r["epoch"]) for r in csv_rows] == [0, 1]
    assert [float(r["val_acc"]) for r in csv_rows] == [e["val_acc"] for e in m["epochs"]]


def test_metrics_csv_holds_the_history_and_the_run_directory_stays_atomic(run_cfg, digits_data, tmp_path):
    m = train(run_cfg, data=digits_data, run_dir=tmp_path / "run", accelerator="cpu")
    got = rows(tmp_path / "run" / "metrics.csv")
    assert list(got[0]) == ["epoch", "step", "train_acc", "train_loss", "val_acc", "val_loss"]
    assert [{k: float(v) for k, v in r.items() if k != "step"} for r in got] == m["epochs"]
    assert not (tmp_path / "run.partial").exists()


def test_the_run_key_is_the_run_directory_name():
    from convstudies.engine.jobs import entry_runs

    for r in entry_runs("translation", "mlp", "tiny"):
        assert run_key(r["config"], r["execution"]) == r["run"]


def test_an_interrupted_max_norm_run_resumes_bit_identical(run_cfg, digits_data, tmp_path, monkeypatch):
    """Kim (2014)'s recipe (Adadelta, max-norm on the output layer): the checkpoint holds each weight once,
    and a checkpoint written by the earlier version (the output layer twice) resumes too."""
    run_cfg["train"].update(epochs=3, optimizer="adadelta", lr=1.0, max_norm=0.5, checkpoint=True)
    whole = train({**run_cfg, "train": {**run_cfg["train"], "checkpoint": False}}, data=digits_data,
                  run_dir=tmp_path / "whole", accelerator="cpu")

    class Interrupt(pl.Callback):
        def on_train_epoch_start(self, trainer, pl_module):
            if trainer.current_epoch == 2:
                raise RuntimeError("interrupted in epoch 3")

    import convstudies.engine.checkpoints as ck

    made = ck.callbacks
    monkeypatch.setattr(ck, "callbacks", lambda *a: made(*a) + [Interrupt()])
    run_dir, ckpt = tmp_path / "point" / "run", tmp_path / "point" / ".checkpoints" / "run" / "last.ckpt"
    with pytest.raises(RuntimeError, match="interrupted in epoch 3"):
        train(run_cfg, data=digits_data, run_dir=run_dir, accelerator="cpu")
    monkeypatch.setattr(ck, "callbacks", made)
    saved = torch.load(ckpt, weights_only=False)
    assert saved["epoch"] == 1 and not [k for k in saved["state_dict"] if k.startswith("_output_layer.")]
    head = [k for k in saved["state_dict"] if k.endswith(".weight")][-1].removesuffix(".weight")
    for part in ("weight", "bias"):  # what the earlier version wrote
        saved["state_dict"][f"_output_layer.{part}"] = saved["state_dict"][f"{head}.{part}"].clone()
    torch.save(saved, ckpt)

    m = train(run_cfg, data=digits_data, run_dir=run_dir, accelerator="cpu")
    assert m["epochs"] == whole["epochs"] and m["evaluations"] == whole["evaluations"]
    mine = torch.load(run_dir / "model.pt", weights_only=True)
    ref = torch.load(tmp_path / "whole" / "model.pt", weights_only=True)
    assert mine.keys() == ref.keys() and all(torch.equal(mine[k], ref[k]) for k in ref)
    assert json.loads((run_dir / "provenance.json").read_text())["runtime"]["resumed_at_epoch"] == 2
