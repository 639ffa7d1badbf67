"""Per-epoch checkpoints of one run, kept outside its run directory, so a killed run resumes.

With ``train.checkpoint`` on, Lightning's ModelCheckpoint writes ``<dir>/last.ckpt`` at the end
of every training epoch (after validation and after the module recorded the epoch): weights,
optimiser and LR-schedule state and the loops' progress (Lightning), the shuffle generator
(``TensorBatches.state_dict``, by :class:`RunState`), the augmentation generator, history and
logged rows (``Classifier.on_save_checkpoint``), torch's global generators (dropout) and the run
key (:class:`RunState`). A new process training the same run resumes from it
(``trainer.fit(ckpt_path="last")``) and continues with exactly the batches, augmentations and
dropout masks the uninterrupted run would have had. A checkpoint of another run key, or one that
cannot be read, is removed and the run starts from scratch (and says so). The caller removes the
directory once the run directory is written (:func:`remove`).
"""
from __future__ import annotations

import hashlib
import json
import shutil
import warnings
from pathlib import Path

import pytorch_lightning as pl
import torch

LAST = "last.ckpt"


def run_key(cfg: dict, execution: dict | None = None) -> str:
    """The run's key as its directory is named (``convstudies.config.run_id``): seed and hash of
    the configuration and the execution."""
    keyed = {**cfg, "execution": execution} if execution else cfg
    return f"seed{cfg['seed']}-{hashlib.sha256(json.dumps(keyed, sort_keys=True).encode()).hexdigest()[:8]}"


def location(cfg: dict, run_dir: str | Path | None, checkpoint_dir: str | Path | None,
             enabled: bool | None = None) -> Path | None:
    """Where a run is checkpointed (created; its CSV log goes there too): None when checkpoints are
    off (``enabled``, or ``train.checkpoint`` when that is None); else ``checkpoint_dir``, or
    ``<parent>/.checkpoints/<run>`` beside a run directory ``<parent>/<run>``; None without either."""
    on = cfg["train"].get("checkpoint", False) if enabled is None else enabled
    if not on or (checkpoint_dir is None and run_dir is None):
        return None
    run_dir = Path(run_dir) if run_dir is not None else None
    where = Path(checkpoint_dir) if checkpoint_dir is not None else run_dir.parent / ".checkpoints" / run_dir.name
    where.mkdir(parents=True, exist_ok=True)
    return where


def _clear(ckpt_dir: Path) -> None:
    for p in ckpt_dir.glob("*.ckpt"):
        p.unlink()


def resume_from(ckpt_dir: str | Path, key: str | None, label: str | None = None) -> str | None:
    """``"last"`` when ``ckpt_dir`` holds a readable checkpoint of run ``key``, else None.

    A checkpoint of another key or one that cannot be read is removed (with a message), so
    the run starts from scratch and never continues someone else's training.
    """
    if not key:
        raise ValueError("a checkpointed run needs its run key, so that no other run's checkpoint is resumed")
    ckpt_dir, who = Path(ckpt_dir), label or key
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    last = ckpt_dir / LAST
    if not last.exists():
        _clear(ckpt_dir)  # files of a first epoch that never reached last.ckpt
        return None
    try:
        ckpt = torch.load(last, map_location="cpu", weights_only=True, mmap=True)
        found, epoch = ckpt.get("convstudies", {}).get("run_key"), ckpt.get("epoch")
    except Exception as e:  # noqa: BLE001 - a truncated or foreign file: train anew
        print(f"[convstudies] {who}: cannot read checkpoint {last} ({type(e).__name__}: {e}); "
              "removed, training from scratch", flush=True)
        _clear(ckpt_dir)
        return None
    if found != key:
        print(f"[convstudies] {who}: checkpoint {last} belongs to run {found}, not {key}; "
              "not resumed: removed, training from scratch", flush=True)
        _clear(ckpt_dir)
        return None
    print(f"[convstudies] {who}: resuming from {last} (epoch {epoch + 1} done)", flush=True)
    return "last"


def callbacks(ckpt_dir: Path, key: str, batches) -> list[pl.Callback]:
    """The checkpoint callbacks: ModelCheckpoint (``last.ckpt`` each epoch) and :class:`RunState`."""
    from pytorch_lightning.callbacks import ModelCheckpoint

    warnings.filterwarnings("ignore", ".*Checkpoint directory .* exists and is not empty.*")  # when resuming
    # at train epoch end, after the module's hook; save_top_k=1 without a monitor keeps only the
    # newest epoch file, and last.ckpt (written after it) is what a rerun resumes from
    every_epoch = ModelCheckpoint(dirpath=ckpt_dir, save_last=True, save_top_k=1, every_n_epochs=1,
                                  save_on_train_epoch_end=True, enable_version_counter=False)
    return [RunState(key, batches), every_epoch]


class RunState(pl.Callback):
    """Stores the run key, torch's global generators and the training batches' shuffle generator in
    each checkpoint; checks and restores them.

    Lightning restores a stateful train iterable itself only when it resumes mid-epoch
    (``_FitLoop.restarting`` is False after a finished epoch, and ``setup_data`` then skips
    ``load_state_dict``), so at an epoch boundary the shuffle state is restored here, on load,
    before the fit loop draws the next epoch's permutation.
    """

    def __init__(self, key: str, batches=None):
        self.key, self.batches = key, batches
        self._rng: dict | None = None

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        rng = {"cpu": torch.get_rng_state()}
        if pl_module.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(pl_module.device)
        checkpoint["convstudies"] = {"run_key": self.key, "rng": rng,
                                     "batches": self.batches.state_dict() if self.batches is not None else None}

    def on_load_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        found = checkpoint.get("convstudies", {}).get("run_key")
        if found != self.key:
            raise ValueError(f"refusing to resume run {self.key} from a checkpoint of run {found}")
        self._rng = checkpoint["convstudies"]["rng"]
        if self.batches is not None:
            self.batches.load_state_dict(checkpoint["convstudies"]["batches"])

    def on_train_start(self, trainer, pl_module) -> None:
        # set here, after setup, so the next draws are those the uninterrupted run would have made
        rng, self._rng = self._rng, None
        if rng is not None:
            torch.set_rng_state(rng["cpu"])
            if "cuda" in rng:
                torch.cuda.set_rng_state(rng["cuda"], pl_module.device)


def remove(ckpt_dir: Path) -> None:
    """Remove a finished run's checkpoint directory, and its parent (the point) when now empty."""
    ckpt_dir = Path(ckpt_dir)
    shutil.rmtree(ckpt_dir, ignore_errors=True)
    try:
        ckpt_dir.parent.rmdir()
    except OSError:
        pass
