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


def test_summary_excludes_diverged_runs_and_counts_them():
    rows = [{"point": "p", "run": f"r{s}", "seed": s, "status": "ok", "condition": "test", "metric": "accuracy",
             "value": v} for s, v in enumerate([0.8, 0.9])]
    rows.append({"point": "p", "run": "r2", "seed": 2, "status": "diverged", "condition": "final",
                 "metric": "diverged", "value": 1.0})
    s = summarize(pd.DataFrame(rows))
    acc = s[s.metric == "accuracy"].iloc[0]
    assert acc["n"] == 2 and acc["mean"] == pytest.approx(0.85) and acc["n_diverged"] == 1
