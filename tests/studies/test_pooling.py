"""pooling study: the max-pool sub-gradient check, the shift evaluations, derive/extent/verdict, figures."""
import math

import numpy as np
import pytest
import torch
from torch import nn

from convstudies.config import load_study
from convstudies.datasets.base import TensorDataset
from convstudies.models import create_model
from convstudies.stats import summarize
from convstudies.studies.pooling import analysis, evaluations, figures
from helpers.tables import examples_of, synthetic_table

THRESHOLDS = load_study("pooling")["thresholds"]


# ---------------------------------------------------------------- the sub-gradient check

def _check(x, k=2, upstream=None):
    x = torch.as_tensor(x, dtype=torch.float32)[None, None]
    pool = nn.MaxPool2d(k)
    if upstream is None:
        upstream = torch.arange(1.0, 1.0 + pool(x).numel()).reshape(pool(x).shape)
    return evaluations.maxpool_gradient_check(x, pool, upstream)


def test_max_pool_gradient_goes_to_the_maximum_only():
    x = [[1.0, 3.0, 0.5, 0.1],
         [2.0, 0.0, 0.2, 0.9],
         [4.0, 1.0, 7.0, 6.0],
         [3.0, 2.0, 5.0, 6.5]]
    res = _check(x)
    assert res["max_error_untied"] == 0.0
    assert res["grad_at_max_ratio"] == 1.0
    assert res["tied_fraction"] == 0.0
    assert res["spread_fraction"] == 0.0
    # the same by hand: upstream 1..4 lands on 3.0, 0.9, 4.0, 7.0
    a = torch.tensor(x)[None, None].requires_grad_()
    nn.MaxPool2d(2)(a).backward(torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]]))
    want = torch.zeros(4, 4)
    want[0, 1], want[1, 3], want[2, 0], want[2, 2] = 1, 2, 3, 4
    assert torch.equal(a.grad[0, 0], want)


@pytest.mark.parametrize("channels_last", [False, True])
def test_tied_window_gives_its_whole_gradient_to_the_first_maximum(channels_last):
    x = torch.zeros(1, 1, 4, 4)
    x[0, 0, 2:, 2:] = torch.tensor([[1.0, 3.0], [3.0, 2.0]])  # tie between (2,3) and (3,2)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    res = evaluations.maxpool_gradient_check(x, nn.MaxPool2d(2), torch.full((1, 1, 2, 2), 2.5))
    assert res["tied_fraction"] == 1.0  # three all-zero windows and one with two 3s
    assert res["tied_elements_with_grad"] == 1.0
    assert res["tied_grad_to_first"] == 1.0
    assert res["tied_zero_fraction"] == pytest.approx(3 / 4)  # three windows of zeros, one tied at 3
    assert res["spread_fraction"] == 0.0


def test_pixels_outside_every_window_get_no_gradient():
    x = torch.randn(7, 7)  # window 3 covers 6x6; the last row and column are dropped
    res = _check(x, k=3)
    assert res["windows"] == 4
    assert res["outside_grad_max"] == 0.0
    assert res["max_error_untied"] == 0.0


def test_a_pool_that_spreads_its_gradient_fails_the_check():
    """The check is not vacuous: max in the forward pass, but an average's gradient added, is caught."""

    class SpreadingMax(nn.MaxPool2d):
        def forward(self, x):
            avg = nn.functional.avg_pool2d(x, self.kernel_size)
            return super().forward(x) + (avg - avg.detach())

    res = evaluations.maxpool_gradient_check(torch.randn(1, 1, 4, 4), SpreadingMax(2), torch.ones(1, 1, 2, 2))
    assert res["max_error_untied"] == pytest.approx(0.25)
    assert res["spread_fraction"] == 1.0


# ---------------------------------------------------------------- evaluations on a tiny model

def _data(n=40, size=28):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 1, size, size, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    return TensorDataset("toy", x, y, x, y, x, y, 10)


def test_shift_agreement_rows_and_zero_shift_is_fully_consistent():
    model = create_model("cnn_sweep", layers=1, filters=4, pool="max")
    data = _data()
    rows = evaluations.pool_shift_agreement(model, data, {}, shifts=[0, 1, 3], directions=["right", "up"])
    assert len(rows) == 6
    cons = {r["shift"]: r["value"] for r in rows if r["metric"] == "consistency"}
    assert cons[0] == 1.0
    assert all(0 <= r["value"] <= 1 for r in rows)
    # every row keeps one value per test digit, in the test split's order, averaging to its value
    for r in rows:
        pe = r["per_example"]
        assert pe.shape == (len(data.y_test),)
        assert float(pe.mean()) == pytest.approx(r["value"], abs=1e-6)
        assert set(pe.tolist()) <= {0.0, 0.5, 1.0}  # fraction of the two directions
    assert torch.equal(next(r for r in rows if r["metric"] == "consistency" and r["shift"] == 0)["per_example"],
                       torch.ones(len(data.y_test)))
    acc0 = next(r for r in rows if r["metric"] == "accuracy" and r["shift"] == 0)["per_example"]
    from convstudies.evaluations.common import correct

    assert torch.equal(acc0, correct(model, data.x_test, data.y_test))  # digit i is test digit i


def test_subgradient_evaluation_on_a_model_and_none_without_max_pool():
    model = create_model("cnn_sweep", filters=[4, 4], kernel=[5, 3], pool=["avg", "max"], norm=True,
                         first_layer={"pool_size": 3})
    rows = {r["metric"]: r["value"] for r in evaluations.maxpool_subgradient(model, _data(), {}, n_images=8)}
    assert rows["max_error_untied"] == 0.0 and rows["spread_fraction"] == 0.0
    assert math.isnan(rows["tied_zero_fraction"]) or 0 <= rows["tied_zero_fraction"] <= 1
    assert rows["outside_grad_max"] == 0.0
    assert evaluations.maxpool_subgradient(create_model("cnn_sweep", layers=1, pool="avg"), _data(), {}) == []


def test_zhang_consistency_is_the_exact_two_random_shift_agreement():
    """Per digit: the probability that two independent uniform offsets give the same class, computed
    by brute force over every pair of offsets (the same offset included, as in Zhang's draws)."""
    torch.manual_seed(0)
    model = create_model("cnn_sweep", layers=1, filters=4, pool="max")
    data = _data(n=30)
    offsets = (-2, -1, 0, 1)
    rows = {r["metric"]: r for r in evaluations.zhang_consistency(model, data, {}, offsets=offsets)}
    from convstudies.evaluations.common import predict
    from convstudies.shifts import translate

    preds = torch.stack([predict(model, translate(data.x_test, dy, dx)).argmax(1)
                         for dy in offsets for dx in offsets])  # (16, N)
    brute = (preds[:, None, :] == preds[None, :, :]).float().mean((0, 1))
    assert torch.allclose(rows["consistency"]["per_example"], brute, atol=1e-6)
    assert torch.allclose(rows["accuracy"]["per_example"], (preds == data.y_test).float().mean(0), atol=1e-6)
    assert rows["consistency"]["condition"] == "shift_pair"
    assert float(brute.min()) >= 1 / 16 - 1e-6  # a digit always agrees with itself on the same offset


def test_zhang_consistency_is_one_for_a_shift_invariant_net():
    class Invariant(nn.Module):  # sums the image: the same logits for every shift that loses no pixel
        def forward(self, x):
            return torch.stack([x.sum((1, 2, 3)) * (i + 1) for i in range(10)], 1)

    x = torch.zeros(6, 1, 12, 12)
    x[:, :, 4:8, 4:8] = torch.rand(6, 1, 4, 4)
    y = torch.zeros(6, dtype=torch.long)
    data = TensorDataset("toy", x, y, x, y, x, y, 10)
    rows = {r["metric"]: r for r in evaluations.zhang_consistency(Invariant(), data, {})}
    assert rows["consistency"]["value"] == pytest.approx(1.0)


def test_subgradient_evaluation_skips_overlapping_windows():
    model = create_model("cnn_sweep", in_shape=(1, 32, 32), filters=[4, 4], pool="max", pool_size=3, pool_stride=2,
                         pool_padding="same")
    assert evaluations.maxpool_subgradient(model, _data(size=32), {}, n_images=4) == []
    sub = create_model("cnn_sweep", in_shape=(1, 32, 32), filters=[4, 4], pool="max", pool_size=1, pool_stride=2)
    assert evaluations.maxpool_subgradient(sub, _data(size=32), {}, n_images=4) == []


# ---------------------------------------------------------------- cnn_sweep

def test_every_window_gives_the_same_head_at_stride_2():
    """The window comparison's geometry: windows 1-4 at stride 2 with "same" padding all give a 16x8x8 head
    input on the 32x32 canvas (as do the other kinds of window 2); without pool_stride the window is the stride."""
    study = load_study("pooling")
    base = study["defaults"]["model"]
    kw = {k: v for k, v in base.items() if k != "name"}
    for k in (1, 2, 3, 4):
        m = create_model("cnn_sweep", in_shape=(1, 32, 32), **{**kw, "pool_size": k})
        assert m.head[-1].in_features == 16 * 8 * 8, k
        pools = [b[-1] for b in m.features]
        assert all((p.kernel_size, p.stride, p.padding) == (k, 2, (k - 1) // 2) for p in pools)
    for kind in ("avg", "conv", "blurmax"):
        assert create_model("cnn_sweep", in_shape=(1, 32, 32), **{**kw, "pool": kind}).head[-1].in_features == 1024
    plain = create_model("cnn_sweep", in_shape=(1, 32, 32), filters=[8, 16], pool="max", pool_size=4)
    assert (plain.features[0][-1].kernel_size, plain.features[0][-1].stride) == (4, 4)
    assert plain.head[-1].in_features == 16 * 2 * 2
    with pytest.raises(ValueError, match="pool padding"):
        create_model("cnn_sweep", pool="max", pool_size=2, pool_padding=2)


def test_cnn_sweep_builds_per_layer_blocks():
    m = create_model("cnn_sweep", in_shape=(1, 28, 28), filters=[8, 16], kernel=[5, 3], pool="max",
                     first_layer={"pool_size": 4})
    b0, b1 = m.features
    assert (b0[0].kernel_size, b0[0].out_channels, b0[-1].kernel_size) == ((5, 5), 8, 4)
    assert (b1[0].kernel_size, b1[0].out_channels, b1[-1].kernel_size) == ((3, 3), 16, 2)
    assert m.head[-1].in_features == 16 * 3 * 3  # 28 -> 7 -> 3
    assert sum(p.numel() for p in m.parameters()) == (8 * 25 + 8) + (16 * 8 * 9 + 16) + (144 * 10 + 10)
    none = create_model("cnn_sweep", layers=1, kernel=5, padding_mode="none", head="flatten")
    assert none.features[0][0].padding == (0, 0) and none.head[-1].in_features == 16 * 24 * 24
    with pytest.raises(ValueError, match="3 values for 2 layers"):
        create_model("cnn_sweep", filters=[1, 2, 3])
    with pytest.raises(ValueError, match="unknown key"):
        create_model("cnn_sweep", first_layer={"pooling": 3})


# ---------------------------------------------------------------- table, extent and verdict

def test_invariance_extent_interpolates_the_crossing():
    assert analysis.invariance_extent([0, 1, 2, 3], [1.0, 0.95, 0.85, 0.5]) == pytest.approx(1.5)
    assert analysis.invariance_extent([2, 0, 1], [0.92, 1.0, 0.95]) == 2.0  # never falls: the largest shift
    assert analysis.invariance_extent([0, 1], [0.8, 0.7]) == 0.0


LABELS = {"kind-poolmax": {"pool": "max", "pool_size": 2}, "kind-poolavg": {"pool": "avg", "pool_size": 2},
          "kind-poolconv": {"pool": "conv", "pool_size": 2}, "kind-poolblurmax": {"pool": "blurmax", "pool_size": 2},
          "kind-poolnone": {"pool": "none", "pool_size": 2}, "size-pool_size1": {"pool": "max", "pool_size": 1},
          "size-pool_size3": {"pool": "max", "pool_size": 3}, "size-pool_size4": {"pool": "max", "pool_size": 4}}


N_TEST = 500  # the embedded scale's test digits


def _per_digit(rate, rng, difficulty):
    """0/1 per test digit with exactly round(rate * N) ones, on the easiest digits give or take noise.

    ``difficulty`` is shared by every net and seed, so arms are correlated across digits as real
    nets are (the same digits are hard for all of them).
    """
    k = round(float(np.clip(rate, 0, 1)) * len(difficulty))
    out = np.zeros(len(difficulty))
    out[np.argsort(difficulty + rng.normal(0, 0.6, len(difficulty)))[:k]] = 1.0
    return out


def _table(cons: dict, noise=0.0, subgrad_error=0.0, spread=0.0, n=N_TEST, tied_zero=0.8, pair=None):
    """cons: point -> consistency at shifts 0..4 (the same for every seed, plus noise per seed, clipped to [0, 1]).

    Every shifted row carries per-digit values; consistency at shift 0 is exactly 1 for every
    digit; accuracy under shift is 0.9 x the consistency. ``pair``: point -> Zhang's two-random-shift
    consistency (default: the point's consistency at 1 px).
    """
    rng = np.random.default_rng(0)
    difficulty = rng.normal(size=n)

    def values(point, labels, seed):
        for s, c in enumerate(cons[point]):
            v = 1.0 if s == 0 else float(np.clip(c + noise * rng.standard_normal(), 0, 1))
            pe = np.ones(n) if s == 0 else _per_digit(v, rng, difficulty)
            yield {"condition": "shifted", "shift": s, "metric": "consistency", "per_example": pe}
            yield {"condition": "shifted", "shift": s, "metric": "accuracy", "per_example": _per_digit(0.9 * v, rng, difficulty)}
        p = (pair or {}).get(point, cons[point][1])
        yield {"condition": "shift_pair", "metric": "consistency",
               "per_example": _per_digit(float(np.clip(p + noise * rng.standard_normal(), 0, 1)), rng, difficulty)}
        yield {"condition": "test", "metric": "accuracy", "per_example": _per_digit(0.95, rng, difficulty)}
        yield {"condition": "final", "metric": "params", "value": 1000}
        if labels["pool"] == "max":
            for metric, v in (("max_error_untied", subgrad_error), ("spread_fraction", spread),
                              ("tied_fraction", 0.5), ("tied_grad_to_first", 1.0), ("tied_zero_fraction", tied_zero)):
                yield {"condition": "subgradient", "metric": metric, "value": v}

    return synthetic_table({p: LABELS[p] for p in cons}, values, seeds=range(3), study="pooling")


GOOD = {"kind-poolmax": [1, .93, .80, .55, .35], "kind-poolavg": [1, .93, .80, .55, .35],
        "kind-poolconv": [1, .90, .68, .40, .24], "kind-poolblurmax": [1, .96, .87, .65, .47],
        "kind-poolnone": [1, .89, .67, .40, .25], "size-pool_size1": [1, .86, .65, .42, .25],
        "size-pool_size3": [1, .94, .85, .70, .50],
        "size-pool_size4": [1, .95, .88, .80, .60]}


def _summarize(table):
    # convstudies.stats.summarize groups by every non-run column, the per-run ``examples`` key
    # included (one summary row per run); drop it until summarize ignores it
    return summarize(table.drop(columns=["examples"], errors="ignore"))


def _verdict(table):
    examples = examples_of(table)
    table = analysis.derive(table)
    summary = _summarize(table)
    return analysis.verdict(table, summary, THRESHOLDS, examples), table, summary


def test_derive_adds_one_row_per_run_and_metric():
    table = analysis.derive(_table(GOOD, noise=0.005))
    derived = table[table["condition"] == "shift_mean"]
    assert len(derived) == 8 * 3 * 3  # points x seeds x (two means and the extent)
    assert derived["examples"].isna().all()
    row = derived[(derived.point == "kind-poolmax") & (derived.seed == 0) & (derived.metric == "consistency_1_2px")]
    cons = table[(table.point == "kind-poolmax") & (table.seed == 0) & (table.metric == "consistency")]
    assert row["value"].item() == pytest.approx(cons[cons["shift"].isin([1, 2])]["value"].mean())


def test_verdict_holds_when_pooling_helps_and_grows_with_the_window():
    res, _, summary = _verdict(_table(GOOD, noise=0.005))
    assert res["verdict"] == "holds", res["evidence"]
    assert "first maximal element" in res["note"]
    key = analysis.key_table(summary)
    assert list(key["pooling"]) == ["max pooling", "average pooling", "strided conv", "blurred max", "no pooling",
                                    "subsampling (window 1)", "max pooling", "max pooling"]
    assert list(key["window"]) == ["2", "2", "2", "2", "-", "1", "3", "4"]
    assert key["consistency @ 1 px"].iloc[0] == pytest.approx(0.93, abs=0.02)
    assert key["Zhang consistency"].iloc[3] == pytest.approx(0.96, abs=0.02)
    ext = summary[(summary["metric"] == "invariance_extent_px") & (summary["point"] == "kind-poolmax")]["mean"]
    assert float(ext.iloc[0]) == pytest.approx(1.3, abs=0.1)


def test_evidence_is_paired_per_digit_and_invariants_are_apart():
    res, table, _ = _verdict(_table(GOOD, noise=0.005))
    ev, inv = res["evidence"], res["invariants"]
    assert len(ev) == 5 and len(inv) == 2
    assert all("consistency gain" in e["name"] for e in ev[:4]) and "Zhang" in ev[4]["name"]
    assert all("gradient" in i["name"] for i in inv) and not {i["name"] for i in inv} & {e["name"] for e in ev}
    assert all(i["ci_low"] == i["estimate"] == i["ci_high"] for i in inv)
    assert all(e["ci_high"] - e["ci_low"] > 0 for e in ev)
    # the first gain's estimate is the paired mean of the per-digit consistencies averaged over 1-2 px
    cons = table[(table.condition == "shifted") & (table.metric == "consistency") & table["shift"].isin([1, 2])]
    by_point = cons.groupby("point")["value"].mean()
    assert ev[0]["estimate"] == pytest.approx(by_point["kind-poolmax"] - by_point["size-pool_size1"], abs=1e-6)
    pair = table[(table.condition == "shift_pair") & (table.metric == "consistency")].groupby("point")["value"].mean()
    assert ev[4]["estimate"] == pytest.approx(pair["kind-poolblurmax"] - pair["kind-poolmax"], abs=1e-6)


def test_intervals_count_test_sampling_even_when_seeds_agree():
    """Without seed noise every seed gives the same rates: a seed t-interval would have zero width; this does not."""
    res, *_ = _verdict(_table(GOOD, noise=0.0))
    assert all(e["ci_high"] - e["ci_low"] > 0.005 for e in res["evidence"])
    # fewer test digits, wider intervals
    small, *_ = _verdict(_table(GOOD, noise=0.0, n=100))
    assert all(s["ci_high"] - s["ci_low"] > e["ci_high"] - e["ci_low"]
               for s, e in zip(small["evidence"], res["evidence"]))


def test_note_states_computed_numbers():
    res, _, summary = _verdict(_table(GOOD, noise=0.005, tied_zero=0.625))
    assert "50.0% of the windows have a tied maximum" in res["note"]
    assert "62.5% of them with a maximum of 0" in res["note"]
    assert "in 100.0% of the tied windows" in res["note"]
    ext = summary[summary.metric == "invariance_extent_px"].set_index("point")["mean"]
    assert f"4: {ext['size-pool_size4']:.2f}" in res["note"]
    other, *_ = _verdict(_table(GOOD, noise=0.005, tied_zero=0.25))
    assert "25.0% of them with a maximum of 0" in other["note"]


def test_verdict_does_not_hold_without_a_pooling_gain():
    """Subsampling as consistent as max pooling at the same geometry: the first check fails, even though
    max pooling still beats the no-pooling net (which is reported beside the evidence, not as evidence)."""
    cons = {**GOOD, "size-pool_size1": GOOD["kind-poolmax"]}
    res, *_ = _verdict(_table(cons, noise=0.002))
    assert res["verdict"] == "does not hold"
    assert res["evidence"][0]["outcome"] == "fail"
    assert "over no pooling at all" in res["note"]


def test_verdict_does_not_hold_when_blurring_loses_consistency():
    res, *_ = _verdict(_table(GOOD, noise=0.002, pair={"kind-poolblurmax": 0.85, "kind-poolmax": 0.93}))
    assert res["verdict"] == "does not hold"
    assert [e["outcome"] for e in res["evidence"]] == ["pass"] * 4 + ["fail"]


def test_verdict_is_in_doubt_when_the_gradient_spreads():
    """The gradient rule is an exact property (an invariant): when it fails the measurement is in
    doubt, so the claim is inconclusive (before the protocol review it was evidence and failed the claim)."""
    res, *_ = _verdict(_table(GOOD, noise=0.005, subgrad_error=0.3, spread=0.2))
    assert res["verdict"] == "inconclusive"
    assert [e["outcome"] for e in res["invariants"]] == ["fail", "fail"]
    assert all(e["outcome"] == "pass" for e in res["evidence"])
    assert "did not pass" in res["note"]


def test_verdict_inconclusive_when_noise_swamps_the_window_effect():
    cons = {**GOOD, "size-pool_size4": GOOD["size-pool_size3"]}
    res, *_ = _verdict(_table(cons, noise=0.08))
    assert res["verdict"] == "inconclusive"
    assert "more seeds" in res["note"]
    assert "window 4 over window 3" in res["note"]


@pytest.mark.parametrize("name", list(load_study("pooling")["figures"]))
def test_figures_draw(name):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, table, summary = _verdict(_table(GOOD, noise=0.005))
    fig = getattr(figures, name)(table, summary)
    try:
        assert fig.axes and fig.axes[0].lines
        assert not math.isnan(fig.axes[0].get_ylim()[1])
        labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
        assert labels == (["1 px", "2 px", "3 px", "4 px"] if name == "invariance_vs_pool_size"
                          else ["max pooling", "average pooling", "strided conv", "blurred max", "no pooling"])
    finally:
        plt.close(fig)
