"""translation study: the derived shift rows, the verdict, sample efficiency, the key table and the figures."""

import pandas as pd
import pytest
from helpers.tables import synthetic_table

from convstudies.config import load_study
from convstudies.stats import summarize
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


def _values(drop, consistency, eff_acc):
    """Rows as the study's evaluations record them: accuracy falls linearly with the shift by ``drop[point]``."""
    def values(point, labels, seed):
        if point.startswith("eff_"):
            n = 3500 * float(point.rsplit("-f", 1)[1])
            return [{"condition": "random_shift", "shift": 8, "metric": "accuracy", "value": eff_acc(point, n)},
                    {"condition": "final", "metric": "n_train", "value": n, "noisy": False},
                    {"condition": "final", "metric": "params", "value": 1000.0, "noisy": False}]
        rows = [{"condition": "shift", "shift": s, "direction": d, "metric": "accuracy",
                 "value": 0.95 - drop[point] * s / 8 + (0.01 if d == "left" else -0.01 if d == "right" else 0)}
                for d in DIRECTIONS for s in SHIFTS]
        rows += [{"condition": "consistency", "shift": m, "metric": "consistency", "value": consistency[point][i]}
                 for i, m in enumerate((2, 4, 8))]
        rows.append({"condition": "final", "metric": "params", "noisy": False,
                     "value": {"mlp": 200000.0, "cnn_flatten": 8000.0, "cnn_gap": 6000.0}[point]})
        return rows
    return values


DROP = {"mlp": 0.6, "cnn_flatten": 0.4, "cnn_gap": 0.04}
CONS = {"mlp": (0.7, 0.5, 0.3), "cnn_flatten": (0.8, 0.7, 0.5), "cnn_gap": (0.95, 0.9, 0.85)}


def _eff_acc(point, n):  # the CNN reaches 0.90 from 437.5 digits, the MLP at 0.90 from 1750
    return 0.90 if point.startswith("eff_cnn") else {437.5: 0.6, 875.0: 0.8, 1750.0: 0.9, 3500.0: 0.93}[n]


def _table(drop=DROP, cons=CONS, eff_acc=_eff_acc, noise=0.005, seeds=(0, 1, 2)):
    table = synthetic_table({**CENTRED, **EFF}, _values(drop, cons, eff_acc), seeds=seeds, noise=noise,
                            study="translation")
    return analysis.derive(table)


def test_derive_averages_directions_and_takes_the_drop_at_the_largest_shift():
    table = _table(noise=0.0)
    mean = table[(table.condition == "shift_mean") & (table.point == "mlp") & (table.seed == 0)]
    assert sorted(mean["shift"]) == list(SHIFTS) and mean["direction"].isna().all()
    assert mean.set_index("shift")["value"][4] == pytest.approx(0.95 - 0.3)
    drop = table[table.condition == "shift_drop"]
    assert len(drop) == 3 * 3 and set(drop["metric"]) == {"accuracy_drop"} and set(drop["shift"]) == {8}
    assert drop[(drop.point == "cnn_gap") & (drop.seed == 1)]["value"].item() == pytest.approx(0.04)


def test_derive_leaves_a_table_without_shift_sweep_alone():
    table = synthetic_table(EFF, _values(DROP, CONS, _eff_acc))
    assert analysis.derive(table) is table


def test_verdict_holds_when_only_the_mlp_loses_accuracy_and_consistency():
    table = _table()
    result = analysis.verdict(table, summarize(table), THRESHOLDS)
    assert result["verdict"] == HOLDS, result["evidence"]
    ev = result["evidence"]
    assert ev[0]["name"] == "MLP accuracy drop at 8 px" and ev[0]["estimate"] == pytest.approx(0.6, abs=0.02)
    assert ev[2]["name"].startswith("consistency gain of CNN-gap over MLP (shifts up to 8")
    assert ev[2]["estimate"] == pytest.approx(0.55, abs=0.02)


def test_verdict_does_not_hold_when_global_pooling_loses_accuracy_too():
    table = _table(drop={**DROP, "cnn_gap": 0.4})
    result = analysis.verdict(table, summarize(table), THRESHOLDS)
    assert result["verdict"] == NOT_HOLDS
    assert [e["outcome"] for e in result["evidence"]] == ["pass", "fail", "pass"]


def test_verdict_inconclusive_when_the_consistency_gain_straddles_the_margin():
    table = _table(cons={**CONS, "cnn_gap": (0.5, 0.5, 0.45)}, noise=0.05)
    result = analysis.verdict(table, summarize(table), THRESHOLDS)
    assert result["verdict"] == INCONCLUSIVE
    assert result["evidence"][2]["ci_low"] < THRESHOLDS["consistency_margin"] < result["evidence"][2]["ci_high"]


def test_verdict_needs_exactly_one_drop_row_per_point():
    table = _table()
    summary = summarize(table)
    twice = pd.concat([summary, summary[(summary.condition == "shift_drop") & (summary.point == "mlp")]])
    with pytest.raises(ValueError, match=r"expected one summary row for \{'point': 'mlp'\}, found 2"):
        analysis.verdict(table, twice, THRESHOLDS)


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
    result = analysis.verdict(table, summarize(table), THRESHOLDS)
    eff = result["sample_efficiency"]
    assert eff["mlp_samples"] is None and eff["ratio_at_least"] == pytest.approx(8.0)
    assert "needs more than 8x as many samples" in result["note"]
    assert analysis.samples_to_match(summarize(_table().query("not point.str.startswith('eff_mlp')"))) == {}


def test_key_table_has_one_row_per_centred_model():
    key = analysis.key_table(summarize(_table(noise=0.0)))
    assert sorted(key["model"]) == sorted(v["model"] for v in CENTRED.values())
    assert list(key.columns) == ["model"] + [f"acc @ {s} px" for s in SHIFTS] + ["consistency", "parameters"]
    assert key.set_index("model").loc["MLP", "consistency"] == pytest.approx(0.3)
    assert key.set_index("model")["parameters"].to_dict() == {"MLP": 200000, "CNN flatten head": 8000,
                                                              "CNN global pooling": 6000}


def test_every_figure_draws():
    import matplotlib

    matplotlib.use("Agg")
    table = _table()
    summary = summarize(table)
    for name in STUDY["figures"]:
        fig = getattr(figures, name)(table, summary)
        assert fig.axes and fig.axes[0].lines
