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
from helpers.tables import synthetic_table

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
    rows = evaluations.pool_shift_agreement(model, _data(), {}, shifts=[0, 1, 3], directions=["right", "up"])
    assert len(rows) == 6
    cons = {r["shift"]: r["value"] for r in rows if r["metric"] == "consistency"}
    assert cons[0] == 1.0
    assert all(0 <= r["value"] <= 1 for r in rows)


def test_subgradient_evaluation_on_a_model_and_none_without_max_pool():
    model = create_model("cnn_sweep", filters=[4, 4], kernel=[5, 3], pool=["avg", "max"], norm=True,
                         first_layer={"pool_size": 3})
    rows = {r["metric"]: r["value"] for r in evaluations.maxpool_subgradient(model, _data(), {}, n_images=8)}
    assert rows["max_error_untied"] == 0.0 and rows["spread_fraction"] == 0.0
    assert rows["outside_grad_max"] == 0.0
    assert evaluations.maxpool_subgradient(create_model("cnn_sweep", layers=1, pool="avg"), _data(), {}) == []


# ---------------------------------------------------------------- cnn_sweep

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
          "kind-poolnone": {"pool": "none", "pool_size": 2}, "size-pool_size3": {"pool": "max", "pool_size": 3},
          "size-pool_size4": {"pool": "max", "pool_size": 4}}


def _table(cons: dict, noise=0.0, subgrad_error=0.0, spread=0.0):
    """cons: point -> consistency at shifts 0..4 (the same for every seed, plus noise, clipped to [0, 1]).

    Consistency at shift 0 is exactly 1; accuracy under shift is 0.9 x the consistency.
    """
    rng = np.random.default_rng(0)

    def values(point, labels, seed):
        for s, c in enumerate(cons[point]):
            v = 1.0 if s == 0 else float(np.clip(c + noise * rng.standard_normal(), 0, 1))
            yield {"condition": "shifted", "shift": s, "metric": "consistency", "value": v, "noisy": False}
            yield {"condition": "shifted", "shift": s, "metric": "accuracy", "value": 0.9 * v, "noisy": False}
        yield {"condition": "test", "metric": "accuracy", "value": 0.95}
        yield {"condition": "final", "metric": "params", "value": 1000}
        if labels["pool"] == "max":
            for metric, v in (("max_error_untied", subgrad_error), ("spread_fraction", spread),
                              ("tied_fraction", 0.5), ("tied_grad_to_first", 1.0)):
                yield {"condition": "subgradient", "metric": metric, "value": v}

    return synthetic_table({p: LABELS[p] for p in cons}, values, seeds=range(3), study="pooling")


GOOD = {"kind-poolmax": [1, .93, .80, .55, .35], "kind-poolavg": [1, .93, .80, .55, .35],
        "kind-poolconv": [1, .90, .68, .40, .24], "kind-poolblurmax": [1, .96, .87, .65, .47],
        "kind-poolnone": [1, .89, .67, .40, .25], "size-pool_size3": [1, .94, .85, .70, .50],
        "size-pool_size4": [1, .95, .88, .80, .60]}


def _verdict(table):
    table = analysis.derive(table)
    summary = summarize(table)
    return analysis.verdict(table, summary, THRESHOLDS), table, summary


def test_verdict_holds_when_pooling_helps_and_grows_with_the_window():
    res, table, summary = _verdict(_table(GOOD, noise=0.005))
    assert res["verdict"] == "holds", res["evidence"]
    assert "first maximal one" in res["note"]
    key = analysis.key_table(summary)
    assert list(key["pooling"]) == ["max pooling", "average pooling", "strided conv", "blurred max", "no pooling",
                                    "max pooling", "max pooling"]
    assert key["consistency @ 1 px"].iloc[0] == pytest.approx(0.93, abs=0.02)
    ext = summary[(summary["metric"] == "invariance_extent_px") & (summary["point"] == "kind-poolmax")]["mean"]
    assert float(ext.iloc[0]) == pytest.approx(1.3, abs=0.1)


def test_verdict_does_not_hold_without_a_pooling_gain():
    cons = {**GOOD, "kind-poolmax": GOOD["kind-poolnone"]}
    res, *_ = _verdict(_table(cons, noise=0.002))
    assert res["verdict"] == "does not hold"
    assert res["evidence"][0]["outcome"] == "fail"


def test_verdict_does_not_hold_when_the_gradient_spreads():
    res, *_ = _verdict(_table(GOOD, noise=0.005, subgrad_error=0.3, spread=0.2))
    assert res["verdict"] == "does not hold"
    assert [e["outcome"] for e in res["evidence"][-2:]] == ["fail", "fail"]


def test_verdict_inconclusive_when_noise_swamps_the_window_effect():
    cons = {**GOOD, "size-pool_size4": GOOD["size-pool_size3"]}
    res, *_ = _verdict(_table(cons, noise=0.08))
    assert res["verdict"] == "inconclusive"
    assert "more seeds" in res["note"]


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
