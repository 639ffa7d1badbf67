"""translation study: the derived shift rows, the verdict, sample efficiency, the key table and the figures."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from helpers.tables import examples_of, synthetic_table

from convstudies.config import load_study
from convstudies.stats import summarize as _summarize
from convstudies.studies.translation import analysis, figures
from convstudies.verdicts import HOLDS, INCONCLUSIVE, NOT_HOLDS

STUDY = load_study("translation")
THRESHOLDS = STUDY["thresholds"]
CENTRED = {"mlp": {"model": "MLP"}, "cnn_flatten": {"model": "CNN flatten head"},
           "cnn_gap": {"model": "CNN global pooling"}}
EFF = {f"eff_{m}-f{f}": {"model": name} for m, name, fs in
       (("mlp", "MLP + shift augmentation", (0.125, 0.25, 0.5, 1.0)),
        ("cnn", "CNN global pooling + shift augmentation", (0.125, 0.25, 0.5))) for f in fs}
SHIFTS, DIRECTIONS = (0, 2, 4, 6, 8), ("right", "left", "down", "up")


def summarize(table):
    """The summary over seeds; the per-run ``examples`` key is not a grouping column (each run has its own)."""
    return _summarize(table.drop(columns=["examples"], errors="ignore"))


N_TEST = 400  # test digits per run in the hand-made tables


def _values(drop, consistency, eff_acc, rng, agree=False):
    """Rows as the study's evaluations record them: accuracy falls linearly with the shift by ``drop[point]``.

    Test-set rows carry per-example correctness drawn as Bernoulli at the row's accuracy (``rng``:
    one fixed numpy generator, so every table is reproducible); their value is the draws' mean.
    ``agree``: every seed of a point draws the same values.
    """
    def bern(p):
        return (rng.random(N_TEST) < p).astype(float)

    def values(point, labels, seed):
        nonlocal rng
        if agree:  # every seed draws the same examples right: seeds agree exactly
            rng = np.random.default_rng(list(CENTRED).index(point) if point in CENTRED else 99)
        if point.startswith("eff_"):
            n = 3500 * float(point.rsplit("-f", 1)[1])
            return [{"condition": "random_shift", "shift": 8, "metric": "accuracy", "value": eff_acc(point, n)},
                    {"condition": "final", "metric": "n_train", "value": n, "noisy": False},
                    {"condition": "final", "metric": "params", "value": 1000.0, "noisy": False}]
        centred = bern(0.95)  # shift 0 is the unshifted test set: the same predictions in every direction
        rows = [{"condition": "shift", "shift": s, "direction": d, "metric": "accuracy",
                 "per_example": centred if s == 0 else
                 bern(0.95 - drop[point] * s / 8 + (0.01 if d == "left" else -0.01 if d == "right" else 0))}
                for d in DIRECTIONS for s in SHIFTS]
        rows += [{"condition": "consistency", "shift": m, "metric": "consistency",
                  "per_example": bern(consistency[point][i])} for i, m in enumerate((2, 4, 8))]
        rows.append({"condition": "final", "metric": "params", "noisy": False,
                     "value": {"mlp": 200000.0, "cnn_flatten": 8000.0, "cnn_gap": 6000.0}[point]})
        return rows
    return values


DROP = {"mlp": 0.6, "cnn_flatten": 0.4, "cnn_gap": 0.04}
CONS = {"mlp": (0.7, 0.5, 0.3), "cnn_flatten": (0.8, 0.7, 0.5), "cnn_gap": (0.95, 0.9, 0.85)}


def _eff_acc(point, n):  # the CNN reaches 0.90 from 437.5 digits, the MLP at 0.90 from 1750
    return 0.90 if point.startswith("eff_cnn") else {437.5: 0.6, 875.0: 0.8, 1750.0: 0.9, 3500.0: 0.93}[n]


def _table(drop=DROP, cons=CONS, eff_acc=_eff_acc, noise=0.005, seeds=(0, 1, 2), rng_seed=0, agree=False):
    rng = np.random.default_rng(rng_seed)
    table = synthetic_table({**CENTRED, **EFF}, _values(drop, cons, eff_acc, rng, agree), seeds=seeds, noise=noise,
                            study="translation")
    examples = examples_of(table)
    table.attrs = {}  # pandas cannot concatenate frames whose attrs hold arrays
    derived = analysis.derive(table)
    derived.attrs["examples"] = examples
    return derived


def _verdict(table):
    return analysis.verdict(table, summarize(table), THRESHOLDS, examples_of(table))


def test_derive_averages_directions_and_takes_the_drop_at_the_largest_shift():
    table = _table(noise=0.0)
    sweep = table[(table.condition == "shift") & (table.point == "mlp") & (table.seed == 0)]
    mean = table[(table.condition == "shift_mean") & (table.point == "mlp") & (table.seed == 0)]
    assert sorted(mean["shift"]) == list(SHIFTS) and mean["direction"].isna().all()
    assert mean.set_index("shift")["value"][4] == pytest.approx(sweep[sweep["shift"] == 4]["value"].mean())
    assert mean.set_index("shift")["value"][4] == pytest.approx(0.95 - 0.3, abs=0.04)
    drop = table[table.condition == "shift_drop"]
    assert len(drop) == 3 * 3 and set(drop["metric"]) == {"accuracy_drop"} and set(drop["shift"]) == {8}
    one = table[(table.point == "cnn_gap") & (table.seed == 1)]
    at = one[one.condition == "shift_mean"].set_index("shift")["value"]
    assert drop[(drop.point == "cnn_gap") & (drop.seed == 1)]["value"].item() == pytest.approx(at[0] - at[8])


def test_derive_leaves_a_table_without_shift_sweep_alone():
    table = synthetic_table(EFF, _values(DROP, CONS, _eff_acc, np.random.default_rng(0)))
    assert analysis.derive(table) is table


def test_verdict_holds_when_only_the_mlp_loses_accuracy_and_consistency():
    table = _table()
    result = _verdict(table)
    assert result["verdict"] == HOLDS, result["evidence"]
    ev = result["evidence"]
    assert ev[0]["name"] == "MLP accuracy drop at 8 px" and ev[0]["estimate"] == pytest.approx(0.6, abs=0.03)
    assert ev[2]["name"].startswith("consistency gain of CNN-gap over MLP (shifts up to 8")
    assert ev[2]["estimate"] == pytest.approx(0.55, abs=0.03)
    # the estimates are the per-example means, the same numbers as the derived per-run rows
    drops = table[(table.condition == "shift_drop") & (table.point == "mlp")]["value"]
    assert ev[0]["estimate"] == pytest.approx(drops.mean())
    # every interval counts seeds and test examples: positive width around the estimate
    assert all(e["ci_low"] < e["estimate"] < e["ci_high"] for e in ev)
    # no invariants in this study: the evidence alone decides, and they are listed apart
    assert result["invariants"] == [] and len(ev) == 3


def test_intervals_count_the_test_set_even_when_seeds_agree_exactly():
    """Every seed right on the same digits (a t-interval over seed means would have zero width): the
    intervals still have the width of test-set sampling."""
    table = _table(agree=True)
    drops = table[(table.condition == "shift_drop") & (table.point == "mlp")]["value"]
    assert drops.nunique() == 1
    for e in _verdict(table)["evidence"]:
        assert e["ci_high"] - e["ci_low"] > 0.02, e


def test_verdict_does_not_hold_when_global_pooling_loses_accuracy_too():
    table = _table(drop={**DROP, "cnn_gap": 0.4})
    result = _verdict(table)
    assert result["verdict"] == NOT_HOLDS
    assert [e["outcome"] for e in result["evidence"]] == ["pass", "fail", "pass"]


def test_verdict_inconclusive_when_the_consistency_gain_straddles_the_margin():
    table = _table(cons={**CONS, "cnn_gap": (0.5, 0.5, 0.45)})
    result = _verdict(table)
    assert result["verdict"] == INCONCLUSIVE
    assert result["evidence"][2]["ci_low"] < THRESHOLDS["consistency_margin"] < result["evidence"][2]["ci_high"]


def test_verdict_pairs_arms_on_seeds_that_finished_everywhere():
    table = _table(seeds=(0, 1, 2, 3))
    table.loc[(table.point == "mlp") & (table.seed == 3), "status"] = "diverged"
    result = _verdict(table)
    assert "3 seeds" in result["note"] and result["verdict"] == HOLDS


def test_verdict_needs_exactly_one_row_per_seed_and_direction():
    table = _table()
    examples, table.attrs = examples_of(table), {}
    twice = pd.concat([table, table[(table.condition == "shift") & (table.point == "mlp")]], ignore_index=True)
    with pytest.raises(ValueError, match=r"more than one row per seed"):
        analysis.verdict(twice, summarize(twice), THRESHOLDS, examples)


def test_note_states_the_computed_drops_and_gain():
    table = _table()
    result = _verdict(table)
    ev = result["evidence"]
    for e in ev:
        assert f"{e['estimate']:.3f} [{e['ci_low']:.3f}, {e['ci_high']:.3f}]" in result["note"]
    assert "3 seeds" in result["note"]


def test_samples_to_match_interpolates_log_linearly_on_the_mlp_curve():
    eff = analysis.samples_to_match(summarize(_table(noise=0.0)))
    assert eff["cnn_samples"] == 437.5 and eff["cnn_accuracy"] == pytest.approx(0.9)
    assert eff["mlp_samples"] == pytest.approx(1750.0) and eff["ratio"] == pytest.approx(4.0)
    between = lambda p, n: 0.9 if p.startswith("eff_cnn") else {437.5: 0.6, 875.0: 0.8, 1750.0: 1.0, 3500.0: 1.0}[n]
    eff = analysis.samples_to_match(summarize(_table(eff_acc=between, noise=0.0)))
    assert eff["mlp_samples"] == pytest.approx(875.0 * 2 ** 0.5)  # halfway in accuracy, halfway in log(n)


def test_samples_to_match_gives_a_lower_bound_when_the_mlp_never_gets_there():
    never = lambda p, n: 0.9 if p.startswith("eff_cnn") else 0.5
    table = _table(eff_acc=never, noise=0.0)
    result = _verdict(table)
    eff = result["sample_efficiency"]
    assert eff["mlp_samples"] is None and eff["ratio_at_least"] == pytest.approx(8.0)
    assert "needs more than 8x as many samples" in result["note"]
    assert analysis.samples_to_match(summarize(_table().query("not point.str.startswith('eff_mlp')"))) == {}


def test_key_table_has_one_row_per_centred_model():
    key = analysis.key_table(summarize(_table(noise=0.0)))
    assert sorted(key["model"]) == sorted(v["model"] for v in CENTRED.values())
    assert list(key.columns) == ["model"] + [f"acc @ {s} px" for s in SHIFTS] + ["consistency", "parameters"]
    assert key.set_index("model").loc["MLP", "consistency"] == pytest.approx(0.3, abs=0.04)
    assert key.set_index("model")["parameters"].to_dict() == {"MLP": 200000, "CNN flatten head": 8000,
                                                              "CNN global pooling": 6000}


def test_every_figure_draws():
    import matplotlib

    matplotlib.use("Agg")
    table = _table()
    summary = summarize(table)
    for name in STUDY["figures"]:
        if not hasattr(figures, name):  # a generic figure (tests/test_figures_generic.py)
            continue
        fig = getattr(figures, name)(table, summary)
        assert fig.axes and fig.axes[0].lines


def test_shift_evaluations_give_one_value_per_test_digit_averaging_to_the_row():
    """The study's evaluations (shift sweep, consistency, random shifts) keep per-example values in test order."""
    from convstudies.models import create_model

    from convstudies.evaluations.common import (
        random_shift_accuracy,
        shift_consistency,
        shift_sweep,
    )

    torch.manual_seed(0)
    data = SimpleNamespace(x_test=torch.rand(37, 1, 36, 36), y_test=torch.randint(0, 10, (37,)))
    model = create_model("cnn", in_shape=(1, 36, 36), head="global_max",
                         blocks=[{"filters": 4, "kernel": 3, "pool": "max", "norm": True}])
    rows = (shift_sweep(model, data, {}, shifts=(0, 8), directions=("right", "up"))
            + shift_consistency(model, data, {}, max_shifts=(8,)) + random_shift_accuracy(model, data, {}))
    assert len(rows) == 6
    for r in rows:
        v = np.asarray(r["per_example"])
        assert v.shape == (37,) and set(np.unique(v)) <= {0.0, 1.0}
        assert v.mean() == pytest.approx(r["value"])
