"""Seed-batched training: the seeds of one grid point train together as one vectorised model.

Each seed keeps its own initialisation, training subset, batch order and augmentation; the
models' parameters are stacked along a leading seed axis (``torch.func.stack_module_state``)
and one forward pass maps a batch per seed, shape (S, B, ...), through all of them at once
(``vmap`` over ``functional_call``). The loss is the sum of the seeds' mean losses, so each
seed's gradient is the one its own run would get, and the optimisers (Adam, SGD, weight decay,
the schedules) act elementwise: the result equals S separate runs up to floating-point
rounding (``tests/engine/test_seed_batch.py``: final weights within 1e-4 after 100 steps).

Only for models without buffers or randomness of their own (no batch norm, no dropout): their
running statistics and dropout masks would have to be kept per seed. Runs that start from
other runs' weights, cross-validation folds (the fold depends on the seed) and checkpointed
runs take the separate path.
"""
from __future__ import annotations

import copy
import time

import torch
import torch.nn.functional as F
from torch.func import functional_call, stack_module_state, vmap

from ..models import build_model
from .batches import BatchGroups, TensorBatches
from .module import Classifier, epoch_line
from .train import epochs_to_train


def batchable_reason(model: torch.nn.Module, cfg: dict) -> str | None:
    """Why a run cannot be seed-batched, or None when it can."""
    if any(True for _ in model.buffers()):
        return "the model has buffers (batch-norm running statistics would have to be kept per seed)"
    if any(isinstance(m, torch.nn.modules.dropout._DropoutNd) for m in model.modules()):
        return "the model has dropout (its masks would have to be drawn per seed)"
    if cfg["train"].get("init_from"):
        return "the runs start from other runs' weights"
    if cfg["data"].get("cv_folds"):
        return "the cross-validation fold depends on the seed"
    if cfg["train"].get("max_norm"):
        return "the per-step weight renormalisation acts on one model"
    if cfg["train"].get("checkpoint"):
        return "checkpointed runs resume one at a time"
    return None


class StackedModel(torch.nn.Module):
    """S models of one architecture as stacked parameters: (S, B, ...) -> (S, B, classes)."""

    def __init__(self, models: list[torch.nn.Module]):
        super().__init__()
        params, _ = stack_module_state(models)
        self.names = list(params)
        self.stacked = torch.nn.ParameterList([torch.nn.Parameter(params[n].detach().clone()) for n in self.names])
        self.template = copy.deepcopy(models[0])  # the architecture, for unstacking
        self.base = [copy.deepcopy(models[0]).to("meta")]  # a list: not a submodule, holds no parameters

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        def one(params, xb):
            return functional_call(self.base[0], dict(zip(self.names, params)), (xb,))

        return vmap(one)(tuple(self.stacked), x)

    def unstack(self, i: int) -> torch.nn.Module:
        """Seed ``i``'s model as a plain module (for evaluations and the run directory)."""
        model = copy.deepcopy(self.template)
        model.load_state_dict({n: p[i].detach().clone() for n, p in zip(self.names, self.stacked)})
        return model


class SeedBatches:
    """One batch per seed, stacked: each seed's data shuffled by its own generator."""

    def __init__(self, xs: list[torch.Tensor], ys: list[torch.Tensor], batch_size: int, seeds: list[int]):
        self.parts = [TensorBatches(x, y, batch_size, shuffle=True, seed=s) for x, y, s in zip(xs, ys, seeds)]
        if len({len(p) for p in self.parts}) != 1:
            raise ValueError("seed-batched runs need training sets of one size")

    def __len__(self) -> int:
        return len(self.parts[0])

    def __iter__(self):
        for batches in zip(*self.parts):
            yield torch.stack([x for x, _ in batches]), torch.stack([y for _, y in batches])


class SeedBatchClassifier(Classifier):
    """:class:`Classifier` over a :class:`StackedModel`: per-seed losses, accuracies and history."""

    def __init__(self, model: StackedModel, train_cfg: dict, num_classes: int, steps_per_epoch: int,
                 seeds: list[int], progress: list[str] | None = None):
        super().__init__(model, train_cfg, num_classes, steps_per_epoch, seed=seeds[0])
        self.seeds, self.labels = list(seeds), progress
        self.histories: list[list[dict]] = [[] for _ in seeds]
        self.diverged: list[int | None] = [None for _ in seeds]

    def on_fit_start(self):
        self._gens = [torch.Generator(device=self.device).manual_seed(s + 1) for s in self.seeds]

    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        out = []
        for xs, gen in zip(x, self._gens):  # each seed's own augmentation stream, as in its own run
            self._gen = gen
            out.append(super()._augment(xs))
        return torch.stack(out)

    def _per_seed(self, key: str, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        losses = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none").view(y.shape).mean(1)
        correct = (logits.detach().argmax(-1) == y).float().sum(1)
        s = self._sums.setdefault(key, torch.zeros(len(self.seeds), 3, device=losses.device))
        s += torch.stack([losses.detach() * y.shape[1], correct, torch.full_like(correct, y.shape[1])], 1)
        return losses

    def _train_batch(self, x: torch.Tensor, y: torch.Tensor):
        logits = self.model(self._augment(x))
        self._optimise(self._per_seed("train", logits, y).sum())

    def validation_step(self, batch, batch_idx):
        x, y = batch
        n = len(self.seeds)
        self._per_seed("val", self.model(x.expand(n, *x.shape)), y.expand(n, *y.shape))

    def _close(self, key: str) -> list[dict]:
        s = self._sums.pop(key).cpu()
        return [{f"{key}_loss": float(r[0] / r[2]), f"{key}_acc": float(r[1] / r[2])} for r in s]

    def on_validation_epoch_end(self):
        if not self.trainer.sanity_checking:
            self._record_seeds(self._close("val"))

    def on_train_epoch_end(self):
        rows = self._close("train")
        self._record_seeds(rows)
        for i, r in enumerate(rows):
            if self.diverged[i] is None and not torch.isfinite(torch.tensor(r["train_loss"])):
                self.diverged[i] = self.current_epoch
        if all(d is not None for d in self.diverged):
            self.trainer.should_stop = True
        if self.labels:
            seconds = time.perf_counter() - self._epoch_started
            for label, h in zip(self.labels, self.histories):
                print(epoch_line(f"{label} (seed-batched)", h[-1], self.trainer.max_epochs, seconds), flush=True)

    def _record_seeds(self, rows: list[dict]):
        for h, r in zip(self.histories, rows):
            if not h or h[-1]["epoch"] != self.current_epoch:
                h.append({"epoch": self.current_epoch})
            h[-1].update(r)


class SeedView:
    """One seed of a seed-batched fit, shaped like a trained :class:`Classifier` for the evaluations."""

    def __init__(self, model, history, diverged_epoch):
        self.model, self.history, self.diverged_epoch = model, history, diverged_epoch
        self.resumed_at_epoch = None
        self.initial_weights = None


def fit_seed_batch(cfgs: list[dict], datas: list, device: torch.device, precision: str = "32-true",
                   progress: list[str] | None = None) -> tuple[list[SeedView], float]:
    """Train the runs ``cfgs`` (one grid point, one config per seed) together; ``datas`` are their
    prepared datasets. Returns one view per seed and the wall seconds of the joint fit."""
    import pytorch_lightning as pl
    from pytorch_lightning.plugins.environments import LightningEnvironment

    from .train import _quiet_lightning

    _quiet_lightning()
    seeds = [c["seed"] for c in cfgs]
    tc = cfgs[0]["train"]
    models = []
    for cfg, data in zip(cfgs, datas):
        pl.seed_everything(cfg["seed"], workers=False, verbose=False)  # as each run's own fit does
        models.append(build_model(cfg["model"], data.in_shape, data.num_classes, seed=cfg["seed"]))
    reason = batchable_reason(models[0], cfgs[0])
    if reason:
        raise ValueError(f"runs of {cfgs[0]['model']['name']} cannot be seed-batched: {reason}")
    stacked = StackedModel(models).to(device)
    train_batches = SeedBatches([d.x_train for d in datas], [d.y_train for d in datas], tc["batch_size"], seeds)
    val_batches = TensorBatches(datas[0].x_val, datas[0].y_val, 1000, shuffle=False)
    epochs = epochs_to_train(tc, len(train_batches))
    module = SeedBatchClassifier(stacked, {**tc, "epochs": epochs}, datas[0].num_classes, len(train_batches), seeds,
                                 progress)
    trainer = pl.Trainer(max_epochs=epochs, accelerator="gpu" if device.type == "cuda" else "cpu",
                         devices=[device.index] if device.type == "cuda" else 1, precision=precision, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         num_sanity_val_steps=0, check_val_every_n_epoch=tc.get("val_every", 1),
                         plugins=[LightningEnvironment()])
    t0 = time.perf_counter()
    trainer.fit(module, BatchGroups(train_batches), val_batches)
    seconds = time.perf_counter() - t0
    return [SeedView(stacked.unstack(i).to(device), module.histories[i], module.diverged[i])
            for i in range(len(seeds))], seconds
