"""Mini-batches sliced by index from tensors that already sit on the training device."""
from __future__ import annotations

import math

import torch


class TensorBatches:
    """An iterable of (x, y) batches; reshuffled every pass with its own seeded generator.

    Replaces a DataLoader for data that fits in memory: no workers, no collation, no
    per-sample Python, and the permutation is drawn on the data's device. ``state_dict`` /
    ``load_state_dict`` (Lightning's protocol for stateful iterables, saved with the fit loop in a
    checkpoint) carry the generator, so a resumed run draws the permutations it would have drawn.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False):
        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} rows but y has {len(y)}")
        self.x, self.y, self.batch_size, self.shuffle, self.drop_last = x, y, batch_size, shuffle, drop_last
        self.generator = torch.Generator(device=x.device)
        self.generator.manual_seed(seed)

    def __len__(self) -> int:
        n = len(self.x) / self.batch_size
        return int(n) if self.drop_last else math.ceil(n)

    def __iter__(self):
        n = len(self.x)
        order = (torch.randperm(n, generator=self.generator, device=self.x.device) if self.shuffle
                 else torch.arange(n, device=self.x.device))
        for i in range(len(self)):
            idx = order[i * self.batch_size:(i + 1) * self.batch_size]
            yield self.x[idx], self.y[idx]

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])


class BatchGroups:
    """Consecutive batches of ``batches`` in groups of up to ``size``: Lightning's loop then runs its
    per-step machinery (hooks, fetching, progress) once per group while the module takes one
    optimiser step per batch, the same steps in the same order (``global_step`` still counts them).
    On a small CPU that machinery costs ~0.5 ms a step, a few percent of a LeNet-5 step and half of
    an MNIST-1D MLP's. The shuffle state is the wrapped iterable's, for checkpoints."""

    def __init__(self, batches, size: int = 8):
        if size < 1:
            raise ValueError(f"a batch group holds at least one batch, not {size}")
        self.batches, self.size = batches, size

    def __len__(self) -> int:
        return math.ceil(len(self.batches) / self.size)

    def __iter__(self):
        group = []
        for batch in self.batches:
            group.append(batch)
            if len(group) == self.size:
                yield group
                group = []
        if group:
            yield group

    def state_dict(self) -> dict:
        return self.batches.state_dict() if hasattr(self.batches, "state_dict") else {}

    def load_state_dict(self, state: dict) -> None:
        if hasattr(self.batches, "load_state_dict"):
            self.batches.load_state_dict(state)
