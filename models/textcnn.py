"""Text classifiers on rows of token ids (padding id 0): a Kim (2014) CNN and a bag of words.

Inputs are (N, L) token ids; float tensors are accepted (the engine stores every dataset as
float32, exact for ids below 2**24) and turned into ids with ``.long()``. Any in_shape is
flattened into one sequence of ``prod(in_shape)`` tokens.

* ``text_cnn`` -- Kim (2014), "CNN-rand": random word embeddings, one convolution per filter
  width (3, 4, 5 with 100 maps each in the paper), ReLU, max-over-time pooling, dropout, a
  linear layer. Kim's training (Adadelta, max-norm 3 on the last layer's weight vectors) is set
  in the run's ``train`` keys (``optimizer: adadelta``, ``max_norm: 3``), not in the model.
* ``text_bow`` -- the mean of the embeddings of a sentence's words, then a linear layer
  (optionally one hidden layer): blind to word order by construction.
"""
from __future__ import annotations

import torch
from torch import nn

from ._registry import register_model

MAX_VOCAB = 20000  # the ids the datasets of convstudies.datasets.text produce are below this


class _TokenInput:
    vocab_size: int
    in_shape: tuple

    def example_input(self, n: int) -> torch.Tensor:
        """A batch of ``n`` random token-id rows of the model's in_shape (as float32, like the datasets)."""
        return torch.randint(0, self.vocab_size, (n, *self.in_shape)).float()


def token_ids(x: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """(N, L) int64 ids from (N, ...) ids of any dtype; out-of-range ids are an error, not a crash later."""
    ids = x.reshape(len(x), -1)
    ids = ids.round().long() if ids.is_floating_point() else ids.long()
    lo, hi = int(ids.min()), int(ids.max())
    if lo < 0 or hi >= vocab_size:
        raise ValueError(f"token ids must lie in [0, {vocab_size}) (vocab_size); got ids from {lo} to {hi}. "
                         "Is the input a text dataset, and is the model's vocab_size large enough?")
    return ids


def kim_embedding(vocab_size: int, embed_dim: int) -> nn.Embedding:
    """Word embeddings initialised U(-0.25, 0.25) as in Kim's code (random vectors of CNN-rand); padding row 0."""
    emb = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
    with torch.no_grad():
        emb.weight.uniform_(-0.25, 0.25)
        emb.weight[0].zero_()
    return emb


class TextCNN(_TokenInput, nn.Module):
    def __init__(self, in_shape, vocab_size: int, num_classes: int, embed_dim: int, widths: list[int], maps: int,
                 dropout: float):
        super().__init__()
        if not widths or min(widths) < 1 or maps < 1:
            raise ValueError(f"text_cnn needs widths >= 1 and maps >= 1, got widths={widths}, maps={maps}")
        self.vocab_size, self.widths, self.in_shape = vocab_size, list(widths), tuple(in_shape)
        self.embed = kim_embedding(vocab_size, embed_dim)
        # padding w - 1 on both sides (Kim pads each sentence so every word meets every filter position)
        self.convs = nn.ModuleList(nn.Conv1d(embed_dim, maps, w, padding=w - 1) for w in self.widths)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(maps * len(self.widths), num_classes)

    def feature_maps(self, x) -> list[torch.Tensor]:
        """Per width, the ReLU activations (N, maps, L + w - 1); position t covers tokens t-w+1 .. t."""
        e = self.embed(token_ids(x, self.vocab_size)).transpose(1, 2)  # (N, embed, L)
        return [torch.relu(conv(e)) for conv in self.convs]

    def forward(self, x):
        pooled = [m.amax(dim=2) for m in self.feature_maps(x)]  # max over time
        return self.fc(self.dropout(torch.cat(pooled, dim=1)))

    def pooled_features(self) -> list[tuple[int, int]]:
        """(index into ``widths`` and :meth:`feature_maps`, map) of every pooled feature, in the
        order the FC layer reads them (its weight column ``f`` belongs to entry ``f``)."""
        return [(j, c) for j, conv in enumerate(self.convs) for c in range(conv.out_channels)]

    def window(self, j: int, t: int) -> range:
        """Token positions that position ``t`` of width ``widths[j]``'s feature map covers
        (positions outside ``0 .. L-1`` are the padding)."""
        return range(t - self.widths[j] + 1, t + 1)


class BagOfWords(_TokenInput, nn.Module):
    def __init__(self, in_shape, vocab_size: int, num_classes: int, embed_dim: int, hidden: int, dropout: float):
        super().__init__()
        self.vocab_size, self.in_shape = vocab_size, tuple(in_shape)
        self.embed = kim_embedding(vocab_size, embed_dim)
        mlp = [nn.Linear(embed_dim, hidden), nn.ReLU()] if hidden else []
        self.head = nn.Sequential(nn.Dropout(dropout), *mlp, nn.Linear(hidden or embed_dim, num_classes))

    def forward(self, x):
        ids = token_ids(x, self.vocab_size)
        mask = (ids != 0).unsqueeze(-1).float()
        mean = (self.embed(ids) * mask).sum(1) / mask.sum(1).clamp(min=1.0)  # padding does not count
        return self.head(mean)


def _check_vocab(vocab_size: int, embed_dim: int):
    if vocab_size < 2 or embed_dim < 1:
        raise ValueError(f"need vocab_size >= 2 and embed_dim >= 1, got {vocab_size}, {embed_dim}")


@register_model(tiny={"embed_dim": 8, "maps": 4, "vocab_size": 64})
def text_cnn(in_shape=(56,), num_classes: int = 2, vocab_size: int = MAX_VOCAB, embed_dim: int = 128,
             widths: list[int] | None = None, maps: int = 100, dropout: float = 0.5):
    """Kim (2014) CNN-rand: embedding, filter widths 3/4/5 x ``maps``, max-over-time pooling, dropout, FC."""
    _check_vocab(vocab_size, embed_dim)
    return TextCNN(in_shape, vocab_size, num_classes, embed_dim, list(widths or (3, 4, 5)), maps, dropout)


@register_model(tiny={"embed_dim": 8, "vocab_size": 64})
def text_bow(in_shape=(56,), num_classes: int = 2, vocab_size: int = MAX_VOCAB, embed_dim: int = 128,
             hidden: int = 0, dropout: float = 0.0):
    """Bag of words: mean word embedding (padding excluded), [hidden ReLU layer], linear classifier."""
    _check_vocab(vocab_size, embed_dim)
    return BagOfWords(in_shape, vocab_size, num_classes, embed_dim, hidden, dropout)
