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


def resampled(ds: TensorDataset, name: str, size: int = 16) -> TensorDataset:
    """``ds`` with every image resampled to ``size`` x ``size`` (bilinear, antialiased), values kept in
    the input's range (LeCun 1989's digits were 16x16)."""
    import torch.nn.functional as F

    def resize(x):
        lo, hi = float(x.min()), float(x.max())
        return F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False).clamp(lo, hi)

    return TensorDataset(name, resize(ds.x_train), ds.y_train, resize(ds.x_val), ds.y_val, resize(ds.x_test),
                         ds.y_test, ds.num_classes)


def cv_folds(y, k: int, seed: int = SPLIT_SEED) -> np.ndarray:
    """The fold (0..k-1) of every example: k stratified folds, fixed by ``seed`` (sklearn's StratifiedKFold
    with shuffling); depends on the labels' order only, so the same data always split the same way."""
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(y)
    fold = np.empty(len(y), dtype=np.int64)
    for i, (_, test) in enumerate(StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y)):
        fold[test] = i
    return fold


def cv_split(x: torch.Tensor, y: torch.Tensor, k: int, fold: int, val_fraction: float = 0.1, seed: int = SPLIT_SEED):
    """(x_train, y_train, x_val, y_val, x_test, y_test) of fold ``fold`` of k-fold cross-validation over
    (x, y): the fold is the test split, the other folds train, ``val_fraction`` of them (stratified,
    fixed) is held out for validation (Kim 2014: 10 % of the training data as the dev set). Order kept."""
    if not 0 <= fold < k:
        raise ValueError(f"fold must lie in 0..{k - 1}, got {fold}")
    device, x, y = x.device, x.cpu(), y.cpu()
    test = torch.as_tensor(cv_folds(y.numpy(), k, seed) == fold)
    x_rest, y_rest = x[~test], y[~test]
    parts = (*split_off_val(x_rest, y_rest, round(val_fraction * len(y_rest)), seed), x[test], y[test])
    return tuple(t.to(device) for t in parts)
