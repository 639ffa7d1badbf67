"""The one LightningModule that trains every registered model."""
from __future__ import annotations

import math
import time

import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from ..shifts import random_affine, random_flip, random_translate


def epoch_line(label: str, row: dict, epochs: int, seconds: float) -> str:
    """One progress line: run, epoch, losses and accuracies (validation ones when it ran), seconds."""
    metrics = " ".join(f"{k}={row[k]:.4f}" for k in ("train_loss", "train_acc", "val_loss", "val_acc") if k in row)
    return f"[convstudies] {label} epoch {row['epoch'] + 1}/{epochs}: {metrics} ({seconds:.1f} s)"


class Classifier(pl.LightningModule):
    """Cross-entropy classification of any ``nn.Module``; records per-epoch metrics in ``history``.

    Per-step values are accumulated on the device and read once per epoch, so training does
    not synchronise with the host at every step. The optimisation step is written out
    (Lightning's manual optimisation: zero the gradients, backward, step, then the
    learning-rate schedule): the same arithmetic in the same order as Lightning's automatic
    loop, without its per-step closure machinery. A non-finite epoch loss marks the run
    diverged and stops training. Each epoch's row also goes to the trainer's logger (a
    CSVLogger: the run's metrics.csv). A checkpoint carries the augmentation generator, the
    history and the logged rows, so a resumed run continues exactly where it stopped.
    """

    def __init__(self, model: torch.nn.Module, train_cfg: dict, num_classes: int, steps_per_epoch: int,
                 seed: int = 0, progress: str | None = None):
        super().__init__()
        self.progress = progress  # a run label: print one line per epoch (the job log shows progress)
        self._epoch_started = time.perf_counter()
        self.model, self.cfg, self.steps_per_epoch, self.seed = model, train_cfg, steps_per_epoch, seed
        self.automatic_optimization = False
        self._output_layer: torch.nn.Linear | None = None  # the layer max_norm constrains
        self.history: list[dict] = []
        self.diverged_epoch: int | None = None
        self._sums: dict[str, torch.Tensor] = {}
        self._gen: torch.Generator | None = None
        self.logged: list[dict] = []  # the rows given to the logger, kept for a resumed run's metrics.csv
        self._resumed: dict | None = None
        self.resumed_at_epoch: int | None = None  # epochs done when training resumed from a checkpoint
        # a frozen backbone (train.freeze_backbone, a linear probe) keeps its batch-norm statistics: its
        # batch-norm layers stay in eval mode while the rest trains (see ``train``)
        self._frozen_norms = frozen_norms(model) if train_cfg.get("freeze_backbone") else []
        for m in self._frozen_norms:
            m.eval()
        self.initial_weights: dict | None = None  # what the run started from (set by the engine; provenance)

    def __setattr__(self, name, value):
        # Lightning sets _current_fx_name around each of its ~15 hook calls per step; nn.Module's
        # __setattr__ (parameter, buffer and submodule bookkeeping) costs more than the hooks themselves
        # _output_layer is a second name for a layer of self.model: registered, it would put the layer
        # twice into the state dict, and a checkpoint saved after the first step would not load
        if name in ("_current_fx_name", "_output_layer"):
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def forward(self, x):
        return self.model(x)

    def train(self, mode: bool = True):
        """Training mode, except for frozen batch norm, which stays in eval mode."""
        super().train(mode)
        if mode:
            for m in getattr(self, "_frozen_norms", ()):
                m.eval()
        return self

    def on_fit_start(self):
        self._gen = torch.Generator(device=self.device)
        self._gen.manual_seed(self.seed + 1)

    def _accumulate(self, key: str, loss: torch.Tensor, logits: torch.Tensor, y: torch.Tensor):
        """Add a batch's summed loss and its count of correct predictions to the epoch's sums."""
        if key not in self._sums:
            self._sums[key] = torch.zeros(2, device=loss.device)
            self._sums[key + "_correct"] = torch.zeros((), dtype=torch.long, device=y.device)
        s = self._sums[key]
        s[0] += loss.detach().float() * len(y)
        s[1] += len(y)
        self._sums[key + "_correct"] += (logits.detach().argmax(1) == y).sum()

    def _means(self, key: str) -> tuple[float, float]:
        """The epoch's mean loss and accuracy (float32 correct / total, as torchmetrics' micro accuracy)."""
        s, correct = self._sums.pop(key, None), self._sums.pop(key + "_correct", None)
        if s is None:
            return math.nan, math.nan
        return float(s[0] / s[1]), float(correct.float() / s[1])

    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        """The training batch as the run's augmentation draws it from its own generator."""
        if self.cfg.get("augment_shift", 0):
            x = random_translate(x, self.cfg["augment_shift"], self._gen)
        if self.cfg.get("augment_flip", False):
            x = random_flip(x, self._gen)
        affine = self.cfg.get("augment_affine")
        if affine:
            x = random_affine(x, affine["translate"], affine["degrees"], affine["scale"], self._gen)
        return x

    def training_step(self, group, group_idx):
        """One optimiser step per batch of the group (:class:`~.batches.BatchGroups`)."""
        for x, y in group:
            self._train_batch(x, y)

    def _train_batch(self, x: torch.Tensor, y: torch.Tensor):
        x = self._augment(x)
        logits = self.model(x)
        loss = F.cross_entropy(logits, y)
        self._accumulate("train", loss, logits, y)
        self._optimise(loss)

    def _optimise(self, loss: torch.Tensor):
        """One optimiser step on ``loss``, one step of the learning-rate schedule, then the max-norm
        constraint when set."""
        opt = self.optimizers()
        opt.zero_grad()
        self.manual_backward(loss)
        opt.step()
        schedule = self.lr_schedulers()
        if schedule is not None:
            schedule.step()
        self.apply_max_norm()

    def apply_max_norm(self):
        """Kim (2014)'s constraint when ``max_norm`` is set: rescale the output layer's per-class
        weight vectors to at most that L2 norm (nothing else changes)."""
        if self.cfg.get("max_norm"):
            if self._output_layer is None:  # found once, not at every step
                self._output_layer = [m for m in self.model.modules() if isinstance(m, torch.nn.Linear)][-1]
            weight = self._output_layer.weight
            with torch.no_grad():
                weight.copy_(torch.renorm(weight, 2, 0, self.cfg["max_norm"]))

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self.model(x)
        self._accumulate("val", F.cross_entropy(logits, y), logits, y)

    def on_validation_epoch_end(self):
        if self.trainer.sanity_checking:
            return
        val_loss, val_acc = self._means("val")
        self._record(val_loss=val_loss, val_acc=val_acc)

    def on_train_epoch_start(self):
        self._epoch_started = time.perf_counter()
        for m in self._frozen_norms:  # whatever mode Lightning left them in
            m.eval()

    def on_train_epoch_end(self):
        loss, acc = self._means("train")
        self._record(train_loss=loss, train_acc=acc)
        if not math.isfinite(loss):
            self.diverged_epoch = self.current_epoch
            self.trainer.should_stop = True
        self._log_row({**self.history[-1], "step": self.global_step - 1})  # Lightning's step for epoch metrics
        if self.progress:
            print(epoch_line(self.progress, self.history[-1], self.trainer.max_epochs,
                             time.perf_counter() - self._epoch_started), flush=True)

    def _log_row(self, row: dict):
        """Write one epoch's row through the logger now, before a checkpoint of this epoch is saved."""
        self.logged.append(row)
        if self.logger is not None:
            self.logger.log_metrics({k: v for k, v in row.items() if k != "step"}, step=row["step"])
            self.logger.save()

    def on_save_checkpoint(self, checkpoint: dict):
        checkpoint["classifier"] = {"generator": self._gen.get_state(), "history": self.history,
                                    "diverged_epoch": self.diverged_epoch, "logged": self.logged}

    def on_load_checkpoint(self, checkpoint: dict):
        for key in [k for k in checkpoint["state_dict"] if k.startswith("_output_layer.")]:
            del checkpoint["state_dict"][key]  # written before _output_layer was kept out of the state dict
        self._resumed = checkpoint["classifier"]  # applied in on_train_start, after on_fit_start seeded _gen

    def on_train_start(self):
        state, self._resumed = self._resumed, None
        if state is None:
            return
        self._gen.set_state(state["generator"])
        self.history, self.diverged_epoch = [dict(r) for r in state["history"]], state["diverged_epoch"]
        self.resumed_at_epoch = len(self.history)
        self.logged = []
        for row in state["logged"]:  # a fresh logger: the rows of the epochs before the checkpoint first
            self._log_row(dict(row))

    def _record(self, **values):
        if not self.history or self.history[-1]["epoch"] != self.current_epoch:
            self.history.append({"epoch": self.current_epoch})
        self.history[-1].update(values)

    def configure_optimizers(self):
        c = self.cfg
        params = [p for p in self.model.parameters() if p.requires_grad]
        if c["optimizer"] == "sgd":
            opt = torch.optim.SGD(params, lr=c["lr"], momentum=c["momentum"], weight_decay=c["weight_decay"],
                                  nesterov=c.get("nesterov", True) and c["momentum"] > 0)
        elif c["optimizer"] == "adam":
            opt = torch.optim.Adam(params, lr=c["lr"], weight_decay=c["weight_decay"])
        elif c["optimizer"] == "adadelta":  # Kim (2014)'s code: rho 0.95, eps 1e-6 (lr 1.0 is plain Adadelta)
            opt = torch.optim.Adadelta(params, lr=c["lr"], rho=0.95, eps=1e-6, weight_decay=c["weight_decay"])
        else:
            opt = torch.optim.AdamW(params, lr=c["lr"], weight_decay=c["weight_decay"])
        total = max(1, c["epochs"] * self.steps_per_epoch)
        warmup = c.get("warmup_steps", 0) > 0
        if c["schedule"] == "constant" and not warmup:
            return opt
        if c["schedule"] == "cosine" and not warmup:
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
        elif c["schedule"] == "onecycle":
            if warmup:
                raise ValueError("train.warmup_steps does not combine with schedule onecycle (it warms up "
                                 "itself): set warmup_steps to 0 or choose another schedule")
            sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=c["lr"], total_steps=total)
        else:
            sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor(c, total))
        return {"optimizer": opt, "lr_scheduler": sched}  # stepped after every optimiser step (training_step)


def frozen_norms(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The batch-norm layers of ``model`` none of whose parameters train (a frozen backbone's)."""
    return [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
            and not any(p.requires_grad for p in m.parameters(recurse=False))]


def lr_factor(c: dict, total: int):
    """The learning rate of step ``t`` as a factor of ``lr``: the schedule (constant, cosine over all
    steps, or divided by 10 at each of ``milestones``) after ``warmup_steps`` steps at ``warmup_lr``
    (He et al. 2016's warm-up for very deep nets)."""
    warmup_steps, warmup = c.get("warmup_steps", 0), c.get("warmup_lr", c["lr"]) / c["lr"]
    milestones = sorted(c.get("milestones", []))

    def factor(t: int) -> float:
        if t < warmup_steps:
            return warmup
        if c["schedule"] == "cosine":
            return 0.5 * (1 + math.cos(math.pi * min(t, total) / total))
        if c["schedule"] == "multistep":
            return 0.1 ** sum(t >= m for m in milestones)
        return 1.0

    return factor
