"""Anchors: our number beside the paper's, and `comparable` derived from the resolved configuration."""
import numpy as np
import pandas as pd
import pytest

from convstudies.anchors import anchor_table, anchors, unmet_requirements

SPEC = {
    "study": "demo", "claim": "c", "thresholds": {},
    "defaults": {"data": {"dataset": "mnist5k"}, "model": {"name": "mlp"}, "train": {"epochs": 2}},
    "scales": {"embedded": {"seeds": {"development": [0], "confirmation": [1000]}},
               "full": {"seeds": {"development": [0], "confirmation": [1000]}, "data": {"dataset": "mnist"},
                        "train": {"epochs": 20}}},
    "grid": [{"id": "net"}],
    "anchors": [{"name": "net error", "paper": 0.95, "source": "LeCun 1998", "point": "net", "metric": "accuracy",
                 "as": "error", "requires": {"scale": "full", "data.dataset": "mnist", "train.epochs": 20}},
                {"name": "full only", "paper": 50, "source": "x", "point": {"full": "net"}, "metric": "accuracy",
                 "requires": {"scale": "full"}}],
}


def _tables(correct: np.ndarray):
    rows = [{"point": "net", "run": f"r{s}", "seed": s, "status": "ok", "condition": "test", "metric": "accuracy",
             "value": float(c.mean()), "examples": f"e{s}"} for s, c in enumerate(correct)]
    table = pd.DataFrame(rows)
    summary = pd.DataFrame([{"point": "net", "condition": "test", "metric": "accuracy", "mean": table.value.mean(),
                             "ci_low": 0.0, "ci_high": 1.0}])
    return table, summary, {f"e{s}": c for s, c in enumerate(correct)}


def test_comparable_only_where_the_resolved_config_meets_every_requirement():
    correct = (np.random.default_rng(0).random((3, 400)) < 0.99).astype(float)
    table, summary, ex = _tables(correct)
    full = anchors(SPEC, table, summary, ex, "full", "confirmation")
    assert [a["name"] for a in full] == ["net error", "full only"]
    a = full[0]
    assert a["comparable"] and a["unmet"] == [] and a["interval_over"] == "seeds and test examples"
    assert a["ours"] == pytest.approx(100 * (1 - correct.mean()))
    assert a["ours_ci_low"] < a["ours"] < a["ours_ci_high"]
    emb = anchors(SPEC, table, summary, ex, "embedded", "confirmation")
    assert [a["name"] for a in emb] == ["net error"]  # the full-only anchor has no embedded point
    assert not emb[0]["comparable"]
    assert "scale is 'embedded'; the paper's protocol needs 'full'" in emb[0]["unmet"]
    assert "data.dataset is 'mnist5k'; the paper's protocol needs 'mnist'" in emb[0]["unmet"]


def test_without_per_example_values_the_seed_interval_is_used():
    table, summary, _ = _tables(np.ones((2, 10)))
    a = anchors(SPEC, table.drop(columns="examples"), summary, {}, "full", "confirmation")[0]
    assert a["interval_over"] == "seeds" and a["ours_ci_low"] == pytest.approx(0.0)


def test_requirements_in_words():
    cfg = {"data": {"dataset": "mnist"}, "train": {"min_steps": 6000}}
    assert unmet_requirements({}, cfg, "full", "confirmation") == [
        "the anchor states no requirements (`requires` in the study file)"]
    assert unmet_requirements({"train.min_steps": 6000, "phase": "confirmation"}, cfg, "full", "confirmation") == []
    assert unmet_requirements({"train.nope": 1}, cfg, "full", "confirmation") == [
        "train.nope is not a key of the run configuration"]
    assert unmet_requirements({"data.train_on_val": True}, cfg, "full", "confirmation") == [
        "data.train_on_val is not set; the paper's protocol needs True"]


def test_an_anchor_naming_a_missing_point_is_an_error():
    spec = {**SPEC, "anchors": [{**SPEC["anchors"][0], "point": "nett"}]}
    table, summary, ex = _tables(np.ones((1, 5)))
    with pytest.raises(ValueError, match="anchor 'net error' names point 'nett'"):
        anchors(spec, table, summary, ex, "full", "confirmation")


def test_anchor_table_shows_comparability():
    table, summary, ex = _tables(np.ones((2, 50)))
    t = anchor_table(anchors(SPEC, table, summary, ex, "embedded", "confirmation"))
    row = t.iloc[0]
    assert row["paper %"] == 0.95 and row["comparable"].startswith("no: scale is 'embedded'")
    assert row["difference"] == pytest.approx(row["ours (embedded) %"] - 0.95)
