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
