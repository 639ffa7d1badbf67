"""Datasets as tensors with a fixed train/val/test split; imports nothing else of the project."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

SPLIT_SEED = 0  # the split is part of the dataset's definition, not of a run


@dataclass
class TensorDataset:
    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int

    @property
    def in_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    def to(self, device) -> "TensorDataset":
        moved = {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in vars(self).items()}
        return TensorDataset(**moved)

    def save(self, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save(vars(self), tmp)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> "TensorDataset":
        try:
            return cls(**torch.load(path, weights_only=True))
        except Exception as e:  # noqa: BLE001 - any unreadable file gets the same advice
            raise ValueError(f"cannot read prepared dataset {path}: {e}. Delete it and rerun; "
                             "the workflow prepares it again.") from e


def stratified_split(x: np.ndarray, y: np.ndarray, n_val: int, n_test: int, seed: int = SPLIT_SEED):
    """(x_train, y_train, x_val, y_val, x_test, y_test): test split off first, then validation."""
    from sklearn.model_selection import train_test_split

    x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=n_test, stratify=y, random_state=seed)
    x_train, x_val, y_train, y_val = train_test_split(x_rest, y_rest, test_size=n_val, stratify=y_rest,
                                                      random_state=seed)
    return x_train, y_train, x_val, y_val, x_test, y_test


def split_off_val(x, y, n_val: int, seed: int = SPLIT_SEED):
    """(x_train, y_train, x_val, y_val): a stratified validation split off tensors, order kept."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    tr, va = train_test_split(idx, test_size=n_val, stratify=np.asarray(y), random_state=seed)
    tr, va = torch.as_tensor(np.sort(tr)), torch.as_tensor(np.sort(va))
    return x[tr], y[tr], x[va], y[va]


def from_arrays(name: str, parts, num_classes: int) -> TensorDataset:
    """A dataset from (x_train, y_train, x_val, y_val, x_test, y_test) arrays: float32 inputs, int64 labels."""
    xs = [torch.as_tensor(np.asarray(a), dtype=torch.float32) for a in parts[0::2]]
    ys = [torch.as_tensor(np.asarray(a), dtype=torch.long) for a in parts[1::2]]
    return TensorDataset(name, xs[0], ys[0], xs[1], ys[1], xs[2], ys[2], num_classes)
