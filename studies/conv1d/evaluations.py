"""conv1d evaluations (torch): accuracy on word-shuffled test sentences, top n-grams of text-CNN filters."""
from __future__ import annotations

import numpy as np
import torch

from convstudies.evaluations import register_evaluation
from convstudies.evaluations.common import correct, rate_row


def shuffle_tokens(x, seed: int = 1234):
    """Each row's non-padding tokens (id != 0) in a random order, padding kept at the end."""
    gen = torch.Generator(device=x.device)
    gen.manual_seed(seed)
    keys = torch.rand(x.shape, generator=gen, device=x.device)
    keys = torch.where(x == 0, torch.full_like(keys, 2.0), keys)  # padding sorts last
    return x.gather(1, keys.argsort(dim=1))


@register_evaluation
def token_shuffle(model, data, cfg, seed: int = 1234) -> list[dict]:
    """Test accuracy when the words of every test sentence are shuffled (the model was trained on ordered
    text), with its per-example correctness in the test split's order."""
    right = correct(model, shuffle_tokens(data.x_test, seed), data.y_test)
    return [rate_row(right, condition="token_shuffle", metric="accuracy")]


def filter_directions(model) -> np.ndarray:
    """Per pooled feature (``model.pooled_features()`` order), its weight towards the last class
    minus the first (positive minus negative)."""
    w = model.fc.weight.detach().cpu().numpy()
    return w[-1] - w[0]


def top_ngrams_of(model, x, vocab: list[str], filters: int = 4, top: int = 6, batch: int = 500) -> list[dict]:
    """The n-grams of ``x`` (token ids) that activate chosen filters of a text CNN most.

    The filters are the ``filters // 2`` with the largest weight towards the last class and as
    many towards the first (by :func:`filter_directions`). Per filter, the ``top`` distinct
    n-grams with the highest activation (max over all sentences and positions); padding is "_".
    """
    from convstudies.models.textcnn import token_ids

    features = model.pooled_features()
    d = filter_directions(model)
    order = np.argsort(d)
    k = max(1, filters // 2)
    chosen = list(order[::-1][:k]) + list(order[:filters - k])
    model.eval()
    with torch.inference_mode():
        per_width = [[] for _ in model.widths]
        for i in range(0, len(x), batch):
            for j, m in enumerate(model.feature_maps(x[i:i + batch])):
                per_width[j].append(m)
        fmaps = [torch.cat(p, 0) for p in per_width]  # (N, maps, L + w - 1)
    ids = token_ids(x, model.vocab_size).cpu().numpy()
    rows = []
    for f in chosen:
        j, c = features[int(f)]
        w = model.widths[j]
        act = fmaps[j][:, c, :]  # (N, L + w - 1), position t covers the tokens model.window(j, t)
        vals, flat = act.flatten().topk(min(act.numel(), 50 * top))
        seen = {}
        for v, idx in zip(vals.tolist(), flat.tolist()):
            n, t = divmod(idx, act.shape[1])
            toks = [ids[n, p] if 0 <= p < ids.shape[1] else 0 for p in model.window(j, t)]
            gram = " ".join(vocab[i] if 0 < i < len(vocab) else "_" for i in toks)
            if gram not in seen:
                seen[gram] = v
            if len(seen) == top:
                break
        label = "positive" if d[f] > 0 else "negative"
        for rank, (gram, v) in enumerate(seen.items()):
            rows.append({"condition": "top_ngram", "filter": f"width {w}, #{c}", "points_to": label,
                         "class_weight": float(d[f]), "rank": rank, "ngram": gram, "metric": "activation",
                         "value": float(v)})
    return rows


@register_evaluation
def top_ngrams(model, data, cfg, filters: int = 4, top: int = 6, split: str = "test") -> list[dict]:
    """Rows with the n-grams (as strings) that maximally activate a few filters of a text CNN."""
    from convstudies.datasets.text import vocabulary

    if not hasattr(model, "feature_maps"):
        return []
    return top_ngrams_of(model, getattr(data, f"x_{split}"), vocabulary(data.name), filters, top)
