"""conv_hparams study: shape and FLOPs formulas, the evaluations, the probe data, the verdict, the figures."""
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from helpers.tables import examples_of, synthetic_table
from torch import nn

from convstudies.config import expand_points, load_study
from convstudies.datasets import build_dataset
from convstudies.models import build_model, create_model
from convstudies.stats import summarize as _summarize
from convstudies.studies.conv_hparams import analysis, evaluations, figures

STUDY = load_study("conv_hparams")
THRESHOLDS = STUDY["thresholds"]


def summarize(table):
    """The summary over seeds; the per-run ``examples`` key is not a grouping column (each run has its own)."""
    return _summarize(table.drop(columns=["examples"], errors="ignore"))


def _data(shape=(1, 28, 28), n=4):
    return SimpleNamespace(x_test=torch.rand(n, *shape))


def _rows(rows, metric):
    """layer -> value of one per-layer metric."""
    return {r["layer"]: r["value"] for r in rows if r["condition"] == "layer" and r["metric"] == metric}


# ---------------------------------------------------------------- formulas and evaluations

@pytest.mark.parametrize("n,k,s,p,want", [(28, 3, 1, 1, 28), (28, 3, 2, 1, 14), (28, 3, 3, 1, 10), (5, 3, 3, 1, 2),
                                          (28, 5, 1, 0, 24), (7, 2, 2, 0, 3), (16, 7, 1, 3, 16)])
def test_output_size_formula(n, k, s, p, want):
    assert analysis.conv_out_size(n, k, s, p) == want == math.floor((n + 2 * p - k) / s) + 1


def test_conv_flops_formula():
    assert analysis.conv_flops(1, 8, 3, (28, 28)) == 2 * 9 * 8 * 784
    assert analysis.conv_flops(8, 16, (5, 3), (7, 7), groups=2) == 2 * 4 * 15 * 16 * 49


@pytest.mark.parametrize("kw", [{}, {"kernel": 7}, {"stride": 3}, {"padding_mode": "none"},
                                {"padding_mode": "circular", "kernel": 5}, {"stride": 2, "padding_mode": "reflect"}])
def test_feature_map_sizes_match_the_formula_for_every_layer(kw):
    model = create_model("cnn_sweep", **{"pool": "max", **kw})
    rows = evaluations.feature_map_sizes(model, _data(), {})
    assert set(_rows(rows, "mismatch")) == {"conv1", "pool1", "conv2", "pool2"}
    assert all(v == 0 for v in _rows(rows, "mismatch").values())
    measured, formula = _rows(rows, "out_size"), _rows(rows, "out_size_formula")
    assert measured == formula
    if kw == {"stride": 3}:  # 28 -> 10 -> 5 -> 2 -> 1
        assert [measured[k] for k in ("conv1", "pool1", "conv2", "pool2")] == [10, 5, 2, 1]
    if kw == {"padding_mode": "none"}:  # 28 -> 26 -> 13 -> 11 -> 5
        assert [measured[k] for k in ("conv1", "pool1", "conv2", "pool2")] == [26, 13, 11, 5]


def test_feature_map_sizes_flag_a_layer_that_breaks_the_formula(capsys):
    """ceil_mode pooling rounds up, so floor((n + 2p - k) / s) + 1 is wrong for odd sizes: caught and printed."""
    model = create_model("cnn_sweep", pool="max", padding_mode="none", head="global_avg")  # 28 -> 26 -> 13 -> 11
    model.features[1][-1] = nn.MaxPool2d(2, ceil_mode=True)  # 11 -> 6, the formula says 5
    rows = evaluations.feature_map_sizes(model, _data(), {})
    assert _rows(rows, "mismatch") == {"conv1": 0, "pool1": 0, "conv2": 0, "pool2": 1}
    assert "SHAPE MISMATCH pool2" in capsys.readouterr().out


def test_flops_evaluation_matches_the_formula_and_the_total():
    model = create_model("cnn_sweep", filters=[4, 6], kernel=[5, 3], stride=[2, 1], pool="max")
    rows = evaluations.flops(model, _data(), {})
    measured, formula = _rows(rows, "flops"), _rows(rows, "flops_formula")
    assert measured["conv1"] == formula["conv1"] == 2 * 25 * 1 * 4 * 14 * 14
    assert measured["conv2"] == formula["conv2"] == 2 * 9 * 4 * 6 * 7 * 7
    total = next(r["value"] for r in rows if r["condition"] == "cost" and r["metric"] == "flops")
    head = 2 * (6 * 3 * 3) * 10  # the flatten head's linear layer
    assert total == measured["conv1"] + measured["conv2"] + head
    assert _rows(rows, "params")["conv1"] == 4 * 25 + 4


def test_inference_throughput_is_positive():
    rows = evaluations.inference_throughput(create_model("cnn_sweep", layers=1, filters=2), _data(n=20), {},
                                            batch_size=10, repeats=1)
    assert rows[0]["metric"] == "inference_images_per_s" and rows[0]["value"] > 0


# ---------------------------------------------------------------- the position-probe data

def test_quadrants_dataset_puts_the_square_in_the_labelled_quadrant():
    d = build_dataset("quadrants")
    assert d.x_train.shape[1:] == (1, 16, 16) and d.num_classes == 4
    assert (len(d.y_train), len(d.y_val), len(d.y_test)) == (3000, 500, 1000)
    assert torch.bincount(d.y_test).tolist() == [250] * 4
    bright = d.x_train[:, 0] == 1.0
    rows = bright.any(2).float().argmax(1)
    cols = bright.any(1).float().argmax(1)
    assert torch.equal((rows >= 8).long() * 2 + (cols >= 8).long(), d.y_train)
    assert float(d.x_train[~bright.unsqueeze(1)].max()) <= 0.5


def test_circular_padding_cannot_see_a_half_image_shift_but_zero_padding_can():
    torch.manual_seed(0)
    x = build_dataset("quadrants").x_test[:8]
    shifted = torch.roll(x, 8, dims=-1)  # top-left <-> top-right, bottom-left <-> bottom-right
    for mode, invariant in (("circular", True), ("zeros", False)):
        model = create_model("cnn_sweep", in_shape=(1, 16, 16), num_classes=4, kernel=5, padding_mode=mode,
                             pool="max", head="global_avg").eval()
        with torch.no_grad():
            same = torch.allclose(model(x), model(shifted), atol=1e-5)
        assert same is invariant, mode


# ---------------------------------------------------------------- verdict on hand-made tables

_EVAL_ROWS: dict = {}
USED = {"mismatch", "out_size", "flops", "flops_formula", "conv_flops"}


def _eval_rows():
    """Real shape and FLOPs rows of every planned point (untrained models), computed once."""
    if not _EVAL_ROWS:
        for pid, p in expand_points(STUDY, "embedded").items():
            cfg = p["config"]
            shape = (1, 16, 16) if cfg["data"]["dataset"] == "quadrants" else (1, 28, 28)
            model = build_model(cfg["model"], shape, 10)
            x = _data(shape, 1)
            ev = evaluations.feature_map_sizes(model, x, {}) + evaluations.flops(model, x, {})
            ev = [r for r in ev if r["metric"] in USED]  # keep the tables small: summarize is per row group
            params = float(sum(q.numel() for q in model.parameters()))
            _EVAL_ROWS[pid] = (p["labels"], ev, params)
    return _EVAL_ROWS


N_TEST = 500


def _table(acc: dict, probe: dict, val: dict | None = None, break_shape=False, seeds=(0, 1, 2)):
    """The real shape and FLOPs rows plus hand-made accuracies: per test digit, exactly round(acc * N)
    right, the easiest in a ranking of the test digits shared by every model of a seed (so settings
    with equal accuracy are right on the same digits). An accuracy may be a list (one per seed).
    Validation accuracy (``val``) defaults to the test accuracy."""
    runs = _eval_rows()
    orders = {s: np.random.default_rng(s).permutation(N_TEST) for s in seeds}

    def values(pid, labels, seed):
        _, ev, params = runs[pid]
        if break_shape and pid == "stride-stride3":
            ev = [{**r, "value": 1.0} if r["metric"] == "mismatch" and r["layer"] == "pool2" else r for r in ev]
        a = probe.get(pid, acc.get(pid, 0.95))
        a = a[seeds.index(seed)] if isinstance(a, list) else a
        right = np.zeros(N_TEST)
        right[orders[seed][:round(a * N_TEST)]] = 1.0
        return [*ev, {"condition": "test", "metric": "accuracy", "per_example": right},
                {"condition": "final", "metric": "val_acc", "value": (val or {}).get(pid, a)},
                {"condition": "final", "metric": "params", "value": params},
                {"condition": "final", "metric": "train_images_per_s", "value": 1000.0}]

    table = synthetic_table({pid: labels for pid, (labels, _, _) in runs.items()}, values, seeds=seeds,
                            study="conv_hparams")
    examples, table.attrs = examples_of(table), {}  # pandas cannot concatenate frames whose attrs hold arrays
    return table, examples


def _verdict(table_examples):
    table, examples = table_examples
    return analysis.verdict(table, summarize(table), THRESHOLDS, examples)


ACC = {"kernel-kernel1": 0.90, "kernel-kernel3": 0.95, "kernel-kernel5": 0.955, "kernel-kernel7": 0.95,
       "filters-filters2": 0.88, "filters-filters4": 0.93, "filters-filters16": 0.96,
       "stride-stride2": 0.90, "stride-stride3": 0.60,
       "padding-padding_modereflect": 0.95, "padding-padding_modecircular": 0.948, "padding-padding_modenone": 0.945}
PROBE = {"probe-padding_modezeros": 0.80, "probe-padding_modereflect": 0.6, "probe-padding_modecircular": 0.25,
         "probe-padding_modenone": 0.4}


@pytest.fixture(scope="module")
def good():
    table, examples = _table(ACC, PROBE)
    return table, summarize(table), examples


def test_verdict_holds_and_the_cost_checks_use_real_flops(good):
    table, summary, examples = good
    res = analysis.verdict(table, summary, THRESHOLDS, examples)
    assert res["verdict"] == "holds", res["evidence"]
    ratio = next(e for e in res["invariants"] if e["name"].startswith("stride 2 cuts"))["estimate"]
    assert ratio == pytest.approx(4.0)  # 28x28 -> 14x14 outputs of the first layer
    exps = analysis.scaling_exponents(summary)
    assert np.allclose(exps["slope"], exps["expected"])
    assert "stride 0.3" in res["note"]
    key = analysis.key_table(summary)
    assert set(key["factor"]) == {"kernel size", "filters", "stride", "padding", "position probe"}
    assert key.loc[(key["factor"] == "stride") & (key["setting"] == "3"), "last map"].item() == 1


def test_exact_properties_are_invariants_and_the_evidence_has_intervals(good):
    table, summary, examples = good
    res = analysis.verdict(table, summary, THRESHOLDS, examples)
    inv = [e["name"] for e in res["invariants"]]
    ev = [e["name"] for e in res["evidence"]]
    assert len(inv) == 5 and len(ev) == 3 and not set(inv) & set(ev)
    assert inv[0].startswith("feature-map size") and inv[1].startswith("measured conv FLOPs")
    assert ev[0].startswith("second-largest test-accuracy range") and "selected on validation" in ev[0]
    assert all(e["ci_low"] == e["estimate"] == e["ci_high"] for e in res["invariants"])
    for e in res["evidence"]:
        assert e["ci_high"] - e["ci_low"] > 0, e
    # second-largest range: filters (16 vs 2 on validation) = 0.96 - 0.88
    assert res["evidence"][0]["estimate"] == pytest.approx(0.08)
    zeros = res["evidence"][1]
    assert zeros["estimate"] == pytest.approx(0.80 - 0.25)


def test_second_largest_takes_each_bound_separately():
    ranges = pd.DataFrame({"range": [0.30, 0.05, 0.01, 0.04], "ci_low": [0.25, 0.00, -0.01, 0.03],
                           "ci_high": [0.35, 0.10, 0.03, 0.05]})
    assert analysis.second_largest(ranges) == pytest.approx((0.05, 0.03, 0.10))
    assert all(np.isnan(analysis.second_largest(ranges.iloc[:1])))


def test_best_and_worst_settings_are_selected_on_validation():
    """On the test digits 2 filters is the worst setting (0.90, a range of 0.05); on validation 16 filters is
    best and 4 the worst, both at 0.95 on the test digits: the verdict follows validation, so only the
    stride matters and the claim does not hold."""
    flat = {k: 0.95 for k in ACC}
    acc = {**flat, "stride-stride3": 0.60, "filters-filters2": 0.90}
    val = {"filters-filters16": 0.97, "filters-filters4": 0.93, "filters-filters2": 0.95}
    res = _verdict(_table(acc, PROBE, val=val))
    assert "filters 0.000 [" in res["note"] and "(16 vs 4, validation 0.970 vs 0.930)" in res["note"]
    assert res["evidence"][0]["outcome"] == "fail" and res["verdict"] == "does not hold"
    # the same test accuracies with validation agreeing: filters 8 (or 4, 16) vs 2 gives 0.05 and the claim holds
    res = _verdict(_table(acc, PROBE))
    assert res["evidence"][0]["estimate"] == pytest.approx(0.05) and res["verdict"] == "holds"


def test_verdict_does_not_hold_when_circular_padding_leaks():
    table = _table(ACC, {**PROBE, "probe-padding_modecircular": 0.6})
    res = _verdict(table)
    assert res["verdict"] == "does not hold"
    assert res["evidence"][-1]["outcome"] == "fail"


def test_verdict_is_inconclusive_on_a_shape_mismatch():
    """A broken shape formula is a failed invariant: the measurement is in doubt, so no verdict."""
    table = _table(ACC, PROBE, break_shape=True)
    res = _verdict(table)
    assert res["verdict"] == "inconclusive"
    assert [e["outcome"] for e in res["evidence"]] == ["pass"] * 3
    assert res["invariants"][0]["outcome"] == "fail" and res["invariants"][0]["estimate"] == 3  # one layer, 3 runs
    assert "Invariants that do not hold" in res["note"] and "3.000 [3.000, 3.000]" in res["note"]


def test_verdict_does_not_hold_when_only_one_factor_matters():
    flat = {k: (0.60 if k == "stride-stride3" else 0.95) for k in ACC}
    table = _table(flat, PROBE)
    res = _verdict(table)
    assert res["verdict"] == "does not hold"
    second = next(e for e in res["evidence"] if e["name"].startswith("second-largest"))
    assert second["outcome"] == "fail" and second["ci_high"] > second["ci_low"]


def test_verdict_inconclusive_when_the_zero_padding_probe_is_noisy():
    table = _table(ACC, {**PROBE, "probe-padding_modezeros": [0.33, 0.40, 0.47]})
    res = _verdict(table)
    assert res["verdict"] == "inconclusive"
    zeros = res["evidence"][1]
    assert zeros["ci_low"] < THRESHOLDS["zeros_leak_min"] < zeros["ci_high"]
    assert (f"position probe, zero padding: accuracy above chance: {zeros['estimate']:.3f} "
            f"[{zeros['ci_low']:.3f}, {zeros['ci_high']:.3f}]") in res["note"]
    assert "more seeds" not in res["note"]


def test_figures_draw(good):
    import matplotlib

    matplotlib.use("Agg")
    table, summary, _ = good
    for name in STUDY["figures"]:
        fig = getattr(figures, name)(table, summary)
        assert fig.axes




def test_evaluations_are_registered_from_the_study_directory():
    from convstudies.evaluations import get_evaluation, list_evaluations

    assert {"feature_map_sizes", "flops", "inference_throughput"} <= set(list_evaluations())
    assert get_evaluation("flops") is evaluations.flops


def test_probe_accuracy_has_one_value_per_test_image_and_the_cost_rows_none():
    from convstudies.evaluations.common import accuracy

    torch.manual_seed(0)
    d = build_dataset("quadrants")
    model = create_model("cnn_sweep", in_shape=(1, 16, 16), num_classes=4, kernel=5, pool="max", head="global_avg")
    acc, _ = accuracy(model, d, {})
    v = np.asarray(acc["per_example"])
    assert v.shape == (len(d.y_test),) and v.mean() == pytest.approx(acc["value"])
    cost = evaluations.feature_map_sizes(model, d, {}) + evaluations.flops(model, d, {})
    assert not any("per_example" in r for r in cost)  # exact properties of the architecture, not test-set rates
