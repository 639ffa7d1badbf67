import math

import numpy as np
import pandas as pd
import pytest

from convstudies.stats import summarize, t_interval
from convstudies.verdicts import HOLDS, INCONCLUSIVE, NOT_HOLDS, Check, decide


def test_t_interval_formula():
    m, lo, hi = t_interval(np.array([1.0, 2.0, 3.0]))
    assert m == 2.0
    assert hi - m == pytest.approx(4.302652729911275 * 1.0 / math.sqrt(3))  # t(0.975, 2) * sd / sqrt(n)
    assert math.isnan(t_interval(np.array([1.0]))[1])


@pytest.mark.parametrize("lo,hi,direction,expected", [
    (0.5, 0.6, ">=", "pass"), (0.1, 0.2, ">=", "fail"), (0.25, 0.35, ">=", INCONCLUSIVE),
    (0.1, 0.2, "<=", "pass"), (0.5, 0.6, "<=", "fail"), (0.25, 0.35, "<=", INCONCLUSIVE),
])
def test_check_outcome_uses_the_whole_interval(lo, hi, direction, expected):
    assert Check("c", (lo + hi) / 2, lo, hi, 0.3, direction).outcome() == expected


def test_decide_combines_checks():
    ok = Check("a", 0.5, 0.4, 0.6, 0.3, ">=")
    bad = Check("b", 0.1, 0.0, 0.2, 0.3, ">=")
    unsure = Check("c", 0.3, 0.2, 0.4, 0.3, ">=")
    assert decide([ok, ok])["verdict"] == HOLDS
    assert decide([ok, bad, unsure])["verdict"] == NOT_HOLDS
    assert decide([ok, unsure])["verdict"] == INCONCLUSIVE
    assert decide([Check("nan", math.nan, math.nan, math.nan, 0.3, ">=")])["verdict"] == INCONCLUSIVE
    ev = decide([ok])["evidence"][0]
    assert ev["outcome"] == "pass" and ev["threshold"] == 0.3


def hand_made_translation_table(mlp_acc_at_8, gap_acc_at_8, seeds=(0, 1, 2)):
    """Tidy rows as runs would produce them: accuracy vs shift and consistency."""
    rows = []
    for point, model, acc8, cons in [("mlp", "MLP", mlp_acc_at_8, 0.2), ("cnn_gap", "CNN gap", gap_acc_at_8, 0.9),
                                     ("cnn_flatten", "CNN flat", 0.2, 0.3)]:
        for s in seeds:
            jitter = 0.01 * s
            base = {"study": "translation", "point": point, "model": model, "run": f"seed{s}", "seed": s,
                    "status": "ok"}
            for d in ("right", "up"):
                for shift, acc in ((0, 0.95), (8, acc8)):
                    rows.append({**base, "condition": "shift", "shift": shift, "direction": d,
                                 "metric": "accuracy", "value": acc + jitter})
            rows.append({**base, "condition": "consistency", "shift": 8, "metric": "consistency",
                         "value": cons + jitter})
            rows.append({**base, "condition": "final", "metric": "params", "value": 1000})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("mlp8,gap8,expected", [(0.1, 0.93, HOLDS), (0.9, 0.93, NOT_HOLDS), (0.1, 0.5, NOT_HOLDS)])
def test_translation_verdict_on_hand_made_tables(mlp8, gap8, expected):
    from convstudies.studies import translation

    table = translation.derive(hand_made_translation_table(mlp8, gap8))
    summary = summarize(table)
    result = translation.verdict(table, summary, {"mlp_drop_min": 0.3, "gap_drop_max": 0.1,
                                                   "consistency_margin": 0.15})
    assert result["verdict"] == expected
    drop = next(e for e in result["evidence"] if e["name"].startswith("MLP"))
    assert drop["estimate"] == pytest.approx(0.95 - mlp8, abs=1e-9)


def test_summary_excludes_diverged_runs_and_counts_them():
    rows = [{"point": "p", "run": f"r{s}", "seed": s, "status": "ok", "condition": "test", "metric": "accuracy",
             "value": v} for s, v in enumerate([0.8, 0.9])]
    rows.append({"point": "p", "run": "r2", "seed": 2, "status": "diverged", "condition": "final",
                 "metric": "diverged", "value": 1.0})
    s = summarize(pd.DataFrame(rows))
    acc = s[s.metric == "accuracy"].iloc[0]
    assert acc["n"] == 2 and acc["mean"] == pytest.approx(0.85) and acc["n_diverged"] == 1


def test_anchor_table_puts_our_error_beside_the_papers():
    from convstudies.analysis import anchor_table

    summary = pd.DataFrame([{"point": "lenet", "condition": "test", "metric": "accuracy", "mean": 0.99,
                             "ci_low": 0.985, "ci_high": 0.995}])
    spec = {"anchors": [{"name": "LeNet-5 error", "paper": 0.95, "source": "LeCun 1998", "point": "lenet",
                         "metric": "accuracy", "as": "error"}]}
    row = anchor_table(spec, summary, "full").iloc[0]
    assert row["ours (full) %"] == pytest.approx(1.0)
    assert row["difference"] == pytest.approx(0.05)
    assert row["95 % CI"] == "[0.50, 1.50]"


def test_random_flip_mirrors_about_half():
    import torch

    from convstudies.shifts import random_flip

    x = torch.arange(4.0).repeat(1000, 1, 1, 1)
    out = random_flip(x, torch.Generator().manual_seed(0))
    flipped = (out[:, 0, 0, 0] == 3).float().mean()
    assert 0.4 < flipped < 0.6 and set(out[:, 0, 0, 0].tolist()) == {0.0, 3.0}
