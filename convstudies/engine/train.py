"""``train(cfg) -> metrics``: one run, callable from the workflow, tests and notebooks alike."""
from __future__ import annotations

import json
import logging
import math
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from ..datasets import build_dataset
from ..datasets.base import TensorDataset
from ..evaluations import get_evaluation
from ..models import build_model
from ..shifts import place_on_canvas
from .batches import BatchGroups, TensorBatches
from .provenance import git_at_start, provenance

_DATA_CACHE: dict = {}


def resolve_device(accelerator: str = "auto") -> torch.device:
    if accelerator == "cpu" or (accelerator == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise RuntimeError("accelerator 'gpu' was asked for but torch sees no CUDA device; "
                           "use accelerator: auto or cpu")
    return torch.device("cuda", torch.cuda.current_device())  # the job's pinned GPU (see gpu_slots)


def describe_device(device: torch.device) -> str:
    """The device in words, for the job log: the GPU's name, or the CPU and why there is no GPU."""
    if device.type == "cuda":
        return f"GPU {device.index} ({torch.cuda.get_device_name(device)})"
    why = "CUDA available but not used" if torch.cuda.is_available() else "no usable CUDA device"
    return f"CPU ({why}; torch {torch.__version__}, {torch.get_num_threads()} threads)"


def resolve_precision(precision: str, device: torch.device) -> str:
    if precision != "auto":
        return precision
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return "bf16-mixed"
    return "32-true"


def load_data(name: str, path: str | Path | None, device: torch.device) -> TensorDataset:
    """The dataset on ``device``, loaded once per process and shared by every run of a job."""
    key = (name, str(path), str(device))
    if key not in _DATA_CACHE:
        ds = TensorDataset.load(path) if path else build_dataset(name)
        _DATA_CACHE[key] = ds.to(device)
    return _DATA_CACHE[key]


def balanced_subset(y: torch.Tensor, fraction: float, cap: int | None, seed: int) -> torch.Tensor:
    """Indices of a class-balanced, seeded subset with ``fraction`` of each class (then at most ``cap``)."""
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(y), generator=gen).to(y.device)
    per_class_cap = math.ceil(cap / int(y.max() + 1)) if cap else None
    keep = []
    for c in torch.unique(y):
        idx = order[y[order] == c]
        k = max(1, math.ceil(fraction * len(idx)))
        keep.append(idx[: min(k, per_class_cap) if per_class_cap else k])
    return torch.cat(keep).sort().values


def prepare_run_data(ds: TensorDataset, data_cfg: dict, seed: int) -> TensorDataset:
    """Apply the run's view of the data: training on validation too, canvas placement, training-set size."""
    parts = dict(vars(ds))
    if data_cfg.get("cv_folds") and len(ds.y_test) == 0:  # a pooled dataset: k-fold CV, the seed picks the fold
        from ..datasets.base import cv_split

        pool = [torch.cat([parts[f"{v}_{s}"] for s in ("train", "val", "test")]) for v in ("x", "y")]
        split = cv_split(*pool, data_cfg["cv_folds"], seed % data_cfg["cv_folds"])
        parts.update(zip(("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"), split))
    elif len(ds.y_test) == 0:
        raise ValueError(f"dataset {ds.name} has no test split (all its examples are one pool for "
                         "cross-validation): set data.cv_folds")
    if data_cfg.get("train_on_val"):  # confirmation runs: the whole training set, its validation part included
        parts["x_train"] = torch.cat([ds.x_train, ds.x_val])
        parts["y_train"] = torch.cat([ds.y_train, ds.y_val])
    if data_cfg.get("canvas"):
        for split in ("train", "val", "test"):
            parts[f"x_{split}"] = place_on_canvas(parts[f"x_{split}"], data_cfg["canvas"])
    if data_cfg.get("n_test"):
        for split in ("val", "test"):
            parts[f"x_{split}"] = parts[f"x_{split}"][: data_cfg["n_test"]]
            parts[f"y_{split}"] = parts[f"y_{split}"][: data_cfg["n_test"]]
    for split in ("train", "val", "test"):
        if parts[f"x_{split}"].dim() == 4:
            parts[f"x_{split}"] = parts[f"x_{split}"].contiguous(memory_format=torch.channels_last)
    if data_cfg.get("train_fraction", 1.0) < 1.0 or data_cfg.get("n_train"):
        idx = balanced_subset(parts["y_train"], data_cfg.get("train_fraction", 1.0), data_cfg.get("n_train"), seed)
        parts["x_train"], parts["y_train"] = parts["x_train"][idx], parts["y_train"][idx]
    return TensorDataset(**parts)


def _quiet_lightning():
    for name in ("pytorch_lightning", "lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*GPU available but not used.*")
    warnings.filterwarnings("ignore", ".*(LeafSpec|TreeSpec).*")
    warnings.filterwarnings("ignore", ".*`srun` command is available.*")
    warnings.filterwarnings("ignore", ".*smaller than the logging interval.*")  # epoch rows only (metrics.csv)


def classifier_of(model: torch.nn.Module) -> torch.nn.Module:
    """The output layer: timm's ``get_classifier()`` where there is one, else the last Linear."""
    if hasattr(model, "get_classifier"):
        return model.get_classifier()
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    if not linears:
        raise ValueError(f"{type(model).__name__} has no Linear output layer to keep trainable")
    return linears[-1]


def classifier_keys(model: torch.nn.Module) -> set[str]:
    """State-dict names of the output layer's tensors (:func:`classifier_of`)."""
    head = classifier_of(model)
    name = next(n for n, m in model.named_modules() if m is head)
    return {f"{name}.{k}" if name else k for k in head.state_dict()}


def freeze_all_but_classifier(model: torch.nn.Module) -> None:
    """Only the classifier trains (a linear probe). The frozen backbone's batch-norm layers are kept
    in eval mode during training too, by the engine's Classifier (``train.freeze_backbone``)."""
    head = set(map(id, classifier_of(model).parameters()))
    for p in model.parameters():
        p.requires_grad_(id(p) in head)


def file_sha256(path: str | Path) -> str:
    import hashlib

    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def load_initial_weights(model: torch.nn.Module, path: Path, freeze_backbone: bool = False) -> list[str]:
    """Start from a pretrained state dict; the classifier always starts fresh (re-initialised, also
    when its shape agrees), and so do tensors of another shape.

    Returns the names of the tensors that were not loaded. A file that gives no backbone tensor
    (none of its names and shapes is one of the model's, classifier aside) is refused: the run
    would silently train from scratch. With ``freeze_backbone`` only the classifier trains.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"initial weights {path} do not exist; the pretraining run must finish first")
    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as e:  # noqa: BLE001
        raise ValueError(f"cannot load initial weights {path} ({type(e).__name__}); retrain the source run") from e
    own = model.state_dict()
    head = classifier_keys(model)
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape and k not in head}
    if not usable:
        raise ValueError(f"initial weights {path} give no backbone tensor to {type(model).__name__} (no name and "
                         "shape in common, classifier aside): refusing to fine-tune a network that would start from "
                         "scratch; the source run must have the same architecture")
    model.load_state_dict(usable, strict=False)
    if freeze_backbone:
        freeze_all_but_classifier(model)
    return sorted(set(own) - set(usable))


def initial_weights(model: torch.nn.Module, init_weights: str | Path | None, freeze_backbone: bool) -> dict | None:
    """Load the run's initial weights (``init_weights``, a pretraining run's model.pt) into ``model``, or
    take the record of a model that loaded pretrained weights itself (its ``initial_weights``
    attribute, e.g. timm_resnet with pretrained: true); freeze all but the classifier with
    ``freeze_backbone``. Returns what was loaded, for provenance: where from, the file's sha256,
    how many tensors loaded and the names of those not loaded; None for a run from scratch."""
    record = getattr(model, "initial_weights", None)
    if init_weights is not None:
        not_loaded = load_initial_weights(model, init_weights)
        record = {"from": "train.init_from", "file": str(init_weights), "sha256": file_sha256(init_weights),
                  "loaded": len(model.state_dict()) - len(not_loaded), "not_loaded": not_loaded}
    if record is not None and not record.get("loaded"):
        raise ValueError(f"pretrained weights {record.get('file')} loaded no backbone tensor: refusing to fine-tune "
                         "a network that would start from scratch")
    if freeze_backbone:
        if record is None:
            raise ValueError("train.freeze_backbone needs pretrained weights to freeze: set train.init_from or "
                             "the model's pretrained: true")
        freeze_all_but_classifier(model)
    return record


def epochs_to_train(train_cfg: dict, steps_per_epoch: int) -> int:
    """Whole epochs a run trains: ``epochs``, or more when ``min_steps`` needs them."""
    return max(train_cfg["epochs"], math.ceil(train_cfg.get("min_steps", 0) / steps_per_epoch))


def fit(cfg: dict, data: TensorDataset, device: torch.device, precision: str = "32-true",
        init_weights: str | Path | None = None, callbacks: list | None = None, progress: str | None = None,
        *, log_dir: str | Path | None = None, checkpoint_dir: str | Path | None = None,
        run_key: str | None = None, progress_bar: bool = False):
    """Train the configured model on ``data``; returns (lightning module, seconds spent fitting).

    With ``log_dir`` a CSVLogger writes ``<log_dir>/metrics.csv``. With ``checkpoint_dir`` a
    checkpoint is saved there after every epoch and one of the same ``run_key`` is resumed
    (:mod:`.checkpoints`; ``module.resumed_at_epoch``: epochs done before, None from scratch).
    """
    import pytorch_lightning as pl
    from lightning_fabric.plugins.environments import LightningEnvironment
    from pytorch_lightning.loggers import CSVLogger

    from .module import Classifier

    _quiet_lightning()
    seed, tc = cfg["seed"], cfg["train"]
    pl.seed_everything(seed, workers=False, verbose=False)
    model = build_model(cfg["model"], data.in_shape, data.num_classes, seed=seed)
    loaded = initial_weights(model, init_weights, tc.get("freeze_backbone", False))
    if data.x_train.dim() == 4:  # channels-last: ~2x faster convolutions on CPU (oneDNN) and on GPUs
        model = model.to(memory_format=torch.channels_last)
    train_batches = TensorBatches(data.x_train, data.y_train, tc["batch_size"], shuffle=True, seed=seed)
    val_batches = TensorBatches(data.x_val, data.y_val, 1000, shuffle=False)
    epochs = epochs_to_train(tc, len(train_batches))
    module = Classifier(model, {**tc, "epochs": epochs}, data.num_classes, len(train_batches), seed=seed,
                        progress=progress)
    module.initial_weights = loaded  # into provenance (train)
    callbacks, ckpt_path = list(callbacks or []), None
    if checkpoint_dir is not None:
        from . import checkpoints

        ckpt_path = checkpoints.resume_from(checkpoint_dir, run_key, progress)
        callbacks += checkpoints.callbacks(checkpoint_dir, run_key, train_batches)
    trainer = pl.Trainer(
        max_epochs=epochs, accelerator="gpu" if device.type == "cuda" else "cpu",
        devices=[device.index] if device.type == "cuda" else 1,
        precision=precision, logger=CSVLogger(log_dir, name="", version="") if log_dir else False,
        enable_checkpointing=checkpoint_dir is not None, enable_progress_bar=progress_bar,
        enable_model_summary=False, num_sanity_val_steps=0, check_val_every_n_epoch=tc.get("val_every", 1),
        log_every_n_steps=10**9,
        # one process, one device: never let Lightning reinterpret a SLURM allocation as a multi-node job
        plugins=[LightningEnvironment()],
        callbacks=callbacks,
    )
    t0 = time.perf_counter()
    trainer.fit(module, BatchGroups(train_batches), val_batches, ckpt_path=ckpt_path)
    return module, time.perf_counter() - t0


def train(cfg: dict, data: TensorDataset | None = None, run_dir: str | Path | None = None, *,
          data_path: str | Path | None = None, accelerator: str = "auto", precision: str = "auto",
          init_weights: str | Path | None = None, execution: dict | None = None,
          progress: str | None = None, checkpoint_dir: str | Path | None = None,
          checkpoint: bool | None = None, progress_bar: bool = False) -> dict:
    """Train one run and evaluate it; write the run directory when ``run_dir`` is given.

    ``cfg`` is a resolved run configuration (see workflow/schemas/study.schema.yaml) plus
    ``seed``. ``init_weights`` is a state dict file to start from (pretraining); ``execution``
    (code hash, path, device, precision: what the run key hashes) goes into provenance; with
    ``progress`` (a run label) one line per epoch is printed. With ``train.checkpoint`` on (or
    ``checkpoint`` True, which overrides it either way without changing the run's key), each
    epoch is checkpointed in ``checkpoint_dir`` (default ``.checkpoints/<run>`` beside ``run_dir``),
    a checkpoint of this run found there is resumed, and it is removed once the run is written.
    ``progress_bar`` shows Lightning's interactive progress bar (a terminal; not for job logs).
    Returns the metrics dict; a run whose loss becomes NaN has status "diverged".
    """
    t_start = time.time()
    git_at_start()  # the revision this process runs, taken now rather than when the run is written
    # looked up before training, so a misspelt evaluation costs no training run
    evaluations = [(get_evaluation(ev["name"]), ev.get("params", {})) for ev in cfg["evaluations"]]
    device = resolve_device(accelerator)
    precision = resolve_precision(precision, device)
    ds = data if data is not None else load_data(cfg["data"]["dataset"], data_path, device)
    ds = prepare_run_data(ds.to(device), cfg["data"], cfg["seed"])
    from . import checkpoints  # imports Lightning, as fit does: only when training
    ckpt_dir = checkpoints.location(cfg, run_dir, checkpoint_dir, checkpoint)
    with tempfile.TemporaryDirectory(prefix="convstudies-log-", dir=ckpt_dir) as log_dir:  # a kill: no litter
        module, fit_s = fit(cfg, ds, device, precision, init_weights, progress=progress, progress_bar=progress_bar,
                            log_dir=log_dir,
                            checkpoint_dir=ckpt_dir, run_key=checkpoints.run_key(cfg, execution))
        metrics = _evaluate(module, fit_s, evaluations, ds, cfg, t_start)
        if run_dir is not None:
            resumed = {"resumed_at_epoch": module.resumed_at_epoch} if ckpt_dir is not None else {}
            write_run_dir(Path(run_dir), cfg, metrics, module.model, {
                "device": str(device), "precision": precision, "started": t_start, "finished": time.time(),
                "execution": execution, **resumed,
                **({"initial_weights": module.initial_weights} if module.initial_weights is not None else {})},
                csv=Path(log_dir) / "metrics.csv")
    if ckpt_dir is not None:
        checkpoints.remove(ckpt_dir)
    return metrics


def _evaluate(module, fit_s: float, evaluations: list, ds: TensorDataset, cfg: dict, t_start: float) -> dict:
    """The run's metrics: training history, size, speed and (unless it diverged) the evaluations."""
    model = module.model
    n_params = sum(p.numel() for p in model.parameters())
    metrics = {"status": "ok", "epochs": module.history, "params": n_params, "n_train": len(ds.y_train),
               "in_shape": list(ds.in_shape), "num_classes": ds.num_classes,
               "fit_seconds": fit_s,
               "train_images_per_s": (len(ds.y_train) * (len(module.history) - (module.resumed_at_epoch or 0))
                                      / fit_s if fit_s > 0 else None)}
    if module.diverged_epoch is not None:
        metrics.update(status="diverged", diverged_epoch=module.diverged_epoch, evaluations=[])
    else:
        rows = []
        for evaluate, params in evaluations:
            rows += evaluate(model, ds, cfg, **params)
        metrics["evaluations"], metrics["per_example"] = split_per_example(rows)
        metrics["final"] = {k: v for k, v in module.history[-1].items() if k != "epoch"} if module.history else {}
    metrics["wall_seconds"] = time.time() - t_start
    return metrics


def split_per_example(rows: list[dict]) -> tuple[list[dict], dict[str, np.ndarray]]:
    """Take the per-example values out of evaluation rows.

    An evaluation row may carry ``per_example``: one value per test example (e.g. 1.0 where the
    prediction is right), in the order of the test split; intervals and pairing across arms are
    computed from these. They are stored apart (``per_example.npz``), keyed by the row's index,
    which the row keeps as ``examples``.
    """
    examples = {}
    for i, r in enumerate(rows):
        values = r.pop("per_example", None)
        if values is not None:
            values = values.detach().float().cpu().numpy() if torch.is_tensor(values) else np.asarray(values)
            examples[str(i)] = values.astype(np.float32).reshape(-1)
            r["examples"] = str(i)
    return rows, examples


def write_run_dir(run_dir: Path, cfg: dict, metrics: dict, model, runtime: dict, csv: Path | None = None) -> None:
    """Write config, metrics, per-example values, weights, provenance and the per-epoch log
    ``csv`` (as ``metrics.csv``, when it exists) into ``run_dir`` atomically.

    Everything goes to a temporary sibling that is renamed into place last, so a run
    directory either is complete or does not exist, whenever the process is killed.
    """
    tmp = run_dir.with_name(run_dir.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    (tmp / "config.json").write_text(json.dumps(cfg, indent=1, sort_keys=True))
    (tmp / "metrics.json").write_text(json.dumps({k: v for k, v in metrics.items() if k != "per_example"}, indent=1))
    if metrics.get("per_example"):
        np.savez_compressed(tmp / "per_example.npz", **metrics["per_example"])
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, tmp / "model.pt")
    (tmp / "provenance.json").write_text(json.dumps({**provenance(), "runtime": runtime}, indent=1))
    if csv is not None and Path(csv).exists():
        shutil.copyfile(csv, tmp / "metrics.csv")
    if run_dir.exists():
        raise FileExistsError(f"{run_dir} already exists; refusing to overwrite a finished run")
    tmp.rename(run_dir)


def run_damage(run_dir: str | Path) -> str | None:
    """What makes an existing run directory unreadable, naming the file; None when every file of it
    reads: config, metrics (with a status) and provenance parse, model.pt is a non-empty torch.save
    archive (its zip directory opens; the weights are not loaded), the per-example values its
    metrics rows reference load (:func:`convstudies.tables.run_damage`, what the tables step reads)."""
    from ..tables import run_damage as damage

    return damage(run_dir, deep=True)


def is_complete(run_dir: str | Path) -> bool:
    """A finished run: its directory exists and every file of it reads (:func:`run_damage`).
    A half-written or damaged directory is not finished."""
    return Path(run_dir).is_dir() and run_damage(run_dir) is None
