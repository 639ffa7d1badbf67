"""residual study: the CIFAR-style nets, the gradient-norm evaluation, verdict, key table and figures."""
import copy

import numpy as np
import pandas as pd
import pytest
import torch
from helpers.tables import examples_of, synthetic_table, with_examples

from convstudies import stats
from convstudies.models import create_model
from convstudies.models.resnet import ShortcutA
from convstudies.studies.residual import analysis, evaluations, figures


def summarize(table):
    """The summary over seeds, one row per point, condition and metric: the per-run ``examples`` key
    is left out of the grouping (convstudies.stats.summarize groups by every other column)."""
    return stats.summarize(table.drop(columns=["examples"], errors="ignore"))


def n_params(m):
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize("depth,paper", [(20, 0.27), (32, 0.46), (44, 0.66), (56, 0.85), (110, 1.7)])
def test_cifar_resnet_has_the_papers_parameter_counts(depth, paper):
    m = create_model("resnet_cifar", in_shape=(3, 32, 32), depth=depth)
    assert round(n_params(m) / 1e6, 2 if depth < 100 else 1) == paper  # He et al. 2016, table 6
    plain = create_model("resnet_cifar", in_shape=(3, 32, 32), depth=depth, residual=False)
    assert n_params(plain) == n_params(m)  # option A shortcuts are parameter-free: same nets but for the adds
    assert len(m.weighted_layers()) == depth  # 6n+2 weighted layers: stem, 6n block convolutions, FC


def test_cifar_resnet_shapes_widths_and_bad_depth():
    m = create_model("resnet_cifar", in_shape=(1, 8, 8), depth=14, width=4)
    assert m(torch.randn(2, 1, 8, 8)).shape == (2, 10)
    assert [b.conv2.out_channels for b in m.blocks] == [4, 4, 8, 8, 16, 16]
    feats = m.blocks(m.stem(torch.randn(1, 1, 28, 28)))
    assert feats.shape == (1, 16, 7, 7)  # two stride-2 stages: 28 -> 14 -> 7
    b = create_model("resnet_cifar", in_shape=(3, 32, 32), depth=20, shortcut="B")
    assert n_params(b) > n_params(create_model("resnet_cifar", in_shape=(3, 32, 32), depth=20))
    with pytest.raises(ValueError, match="6n\\+2"):
        create_model("resnet_cifar", depth=10)
    with pytest.raises(ValueError, match="unknown shortcut 'C'"):
        create_model("resnet_cifar", shortcut="C")


def test_option_a_shortcut_subsamples_and_zero_pads():
    x = torch.randn(2, 4, 6, 6)
    out = ShortcutA(4, 8, stride=2)(x)
    assert out.shape == (2, 8, 3, 3)
    assert torch.equal(out[:, :4], x[:, :, ::2, ::2]) and not out[:, 4:].any()


def test_a_residual_block_with_zero_weights_is_the_identity_and_a_plain_one_is_not():
    res = create_model("resnet_cifar", in_shape=(1, 8, 8), depth=8, width=4).eval()
    plain = create_model("resnet_cifar", in_shape=(1, 8, 8), depth=8, width=4, residual=False).eval()
    x = torch.rand(2, 4, 8, 8)  # non-negative, as after a ReLU
    for net in (res, plain):
        torch.nn.init.zeros_(net.blocks[0].conv2.weight)
    with torch.no_grad():
        assert torch.allclose(res.blocks[0](x), x)
        assert not plain.blocks[0](x).any()


def test_weighted_layers_are_the_main_path_in_depth_order():
    m = create_model("resnet_cifar", in_shape=(1, 8, 8), depth=14, width=4, shortcut="B")
    layers = m.weighted_layers()
    assert layers[0] is m.stem[0] and layers[-1] is m.fc
    assert layers[1:-1] == [c for b in m.blocks for c in (b.conv1, b.conv2)]  # projections excluded
    assert evaluations.weighted_layers(m) == layers
    other = create_model("cnn", in_shape=(1, 8, 8), blocks=[{"filters": 4, "kernel": 3}])
    assert evaluations.weighted_layers(other) == [x for x in other.modules()
                                                 if isinstance(x, (torch.nn.Conv2d, torch.nn.Linear))]


def test_layer_grad_norms_rows_and_the_model_is_untouched(run_cfg, digits_data):
    import pytorch_lightning as pl

    cfg = {**run_cfg, "seed": 3, "model": {"name": "resnet_cifar", "depth": 8, "width": 4}}

    def fit_start():  # the net the engine's fit() trains from: pl.seed_everything(seed), then the model
        pl.seed_everything(cfg["seed"], verbose=False)
        return create_model("resnet_cifar", in_shape=(1, 8, 8), num_classes=10, depth=8, width=4)

    model = fit_start()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(1.5)  # stands for training: differs from the initial net
    state = copy.deepcopy(model.state_dict())
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    rows = evaluations.layer_grad_norms(model, digits_data, cfg, n=64)
    assert torch.equal(torch.rand(1), before)  # the global RNG is left alone
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())  # BN stats unchanged
    assert all(p.grad is None for p in model.parameters())
    df = pd.DataFrame(rows)
    norms = df[df["metric"] == "grad_norm"]
    assert sorted(norms["condition"].unique()) == ["grad_init", "grad_trained"]
    init = norms[norms["condition"] == "grad_init"]
    assert init["layer"].tolist() == list(range(1, 9)) and init["kind"].tolist() == ["conv"] * 7 + ["fc"]
    assert (norms["value"] > 0).all()
    assert not np.allclose(init["value"], norms[norms["condition"] == "grad_trained"]["value"])
    # the init rows are the gradients of the seed's fresh net (the one fit() starts from), computed by hand
    fresh = fit_start().train()
    torch.nn.functional.cross_entropy(fresh(digits_data.x_train[:64]), digits_data.y_train[:64]).backward()
    assert np.allclose(init["value"], [float(m.weight.grad.norm()) for m in fresh.weighted_layers()], rtol=1e-5)
    spread = df[(df["metric"] == "grad_spread") & (df["condition"] == "grad_init")]["value"].item()
    assert spread == pytest.approx(np.log10(init["value"][:7].max() / init["value"][:7].min()))


def test_spread_in_decades():
    assert evaluations.spread_decades([0.1, 1.0, 10.0]) == pytest.approx(2.0)
    assert evaluations.spread_decades([3.0]) == 0.0
    assert np.isnan(evaluations.spread_decades([0.0, 1.0]))


# ---------------------------------------------------------------- verdict on synthetic tables

N_TEST = 360  # sklearn digits' test split


def correctness(p, n, rng):
    """A 0/1 array of ``n`` examples with round(p n) ones at random positions."""
    v = np.zeros(n)
    v[rng.choice(n, round(float(np.clip(p, 0, 1)) * n), replace=False)] = 1.0
    return v


def make_table(plain_deep_loss=2.0, res_deep_loss=0.02, res_deep_acc=0.95, plain_deep_acc=0.3,
               spread_plain=2.5, spread_res=0.8, noise=0.01, seeds=(0, 1, 2), depths=(8, 20, 44),
               params=lambda net, d: 1000.0 * d, layers=lambda net, d: d, converge=lambda net, d: True):
    points = {f"{net}-depth{d}": {"net": net, "depth": d} for net in ("plain", "residual") for d in depths}
    rng = np.random.default_rng(7)

    def values(point, labels, seed):
        net, d = labels["net"], labels["depth"]
        deep = d == max(depths)
        loss = (plain_deep_loss if net == "plain" else res_deep_loss) if deep else 0.1
        acc = (plain_deep_acc if net == "plain" else res_deep_acc) if deep else 0.9
        spread = (spread_plain if net == "plain" else spread_res) if deep else 0.3
        vals = {("train", "loss"): loss, ("grad_init", "grad_spread"): spread}
        rows = [{"condition": c, "metric": m, "value": v} for (c, m), v in vals.items()]
        rows.append({"condition": "test", "metric": "accuracy", "value": acc,
                     "per_example": correctness(acc + noise * rng.standard_normal(), N_TEST, rng)})
        rows.append({"condition": "final", "metric": "params", "value": params(net, d), "noisy": False})
        for layer in range(1, layers(net, d) + 1):
            for c in ("grad_init", "grad_trained"):
                g = 10 ** (spread * (1 - layer / d)) * 0.1 if net == "plain" else 0.3 * 2 ** (-layer / d)
                rows.append({"condition": c, "metric": "grad_norm", "layer": layer,
                             "kind": "fc" if layer == d else "conv", "value": g, "noisy": False})
        final = loss if converge(net, d) else 2 * loss
        rows += [{"condition": "epoch", "epoch": e, "metric": "train_loss", "noisy": False,
                  "value": final + (2.3 - final) * np.exp(-e) if converge(net, d) else 2.3 - (2.3 - final) * e / 19}
                 for e in range(20)]
        return rows

    return with_examples(analysis.derive, synthetic_table(points, values, seeds=seeds, noise=noise, study="residual"))


THRESHOLDS = {"plain_degradation_min": 0.1, "residual_degradation_max": 0.05, "residual_gain_min": 0.05,
              "grad_spread_gap_min": 0.5, "convergence_rel_max": 0.01, "convergence_abs_max": 0.005}


def decide(table):
    return analysis.verdict(table, summarize(table), THRESHOLDS, examples_of(table))


def test_verdict_holds_when_plain_nets_degrade_and_residual_nets_do_not():
    out = decide(make_table())
    assert out["verdict"] == "holds", out["evidence"]
    assert "44 minus 8 layers" in out["evidence"][0]["name"]
    assert "grow towards the input" in out["note"] and "ResNet-110 6.43 %" in out["note"]
    for e in out["evidence"]:
        assert e["ci_high"] > e["ci_low"], e  # every interval has width


def test_the_accuracy_interval_counts_test_examples_and_seeds():
    """With noise-free seeds the seed t-interval would have zero width; the two-way interval does not,
    and it matches the estimator run on the per-example matrices."""
    from convstudies.intervals import paired_difference

    table = make_table(noise=0.0)
    gain = decide(table)["evidence"][2]
    assert "paired on seeds and test examples" in gain["name"]
    ex = examples_of(table)

    def rows(net):
        return table[(table["net"] == net) & (table["depth"] == 44) & (table["condition"] == "test")]

    mats = [np.stack([ex[k] for k in rows(net).sort_values("seed")["examples"]]) for net in ("residual", "plain")]
    assert mats[0].shape == (3, N_TEST)
    assert (gain["estimate"], gain["ci_low"], gain["ci_high"]) == pytest.approx(paired_difference(*mats))
    assert gain["ci_high"] - gain["ci_low"] > 0.02


def test_invariants_are_reported_apart_from_the_evidence():
    out = decide(make_table())
    assert [e["name"].split(":")[0] for e in out["evidence"]] == [
        "plain nets", "residual nets", "test accuracy at 44 layers", "gradient-norm spread at init, 44 layers"]
    assert len(out["invariants"]) == 3 and all(i["outcome"] == "pass" for i in out["invariants"])
    assert all(i["estimate"] == i["ci_low"] == i["ci_high"] == 0 for i in out["invariants"])
    assert not {i["name"] for i in out["invariants"]} & {e["name"] for e in out["evidence"]}
    # a parameter mismatch (shortcuts with weights) or a missing layer makes the measurement doubtful
    bad = decide(make_table(params=lambda net, d: 1000.0 * d + (50 if net == "residual" else 0)))
    assert bad["verdict"] == "inconclusive" and bad["invariants"][0]["estimate"] == 50
    missing = decide(make_table(layers=lambda net, d: d - 1 if net == "plain" else d))
    assert missing["verdict"] == "inconclusive" and missing["invariants"][1]["outcome"] == "fail"


def test_a_run_whose_training_loss_still_falls_makes_the_verdict_inconclusive():
    table = make_table(converge=lambda net, d: not (net == "plain" and d == 44))
    conv = analysis.convergence(table)
    assert len(conv) == 18 and (conv["window"] == 2).all()  # 10 % of 20 epochs
    still = conv[~analysis.converged(conv, THRESHOLDS)]
    assert set(zip(still["net"], still["depth"])) == {("plain", 44)}
    out = decide(table)
    assert out["verdict"] == "inconclusive" and out["invariants"][2]["estimate"] == 3  # three seeds
    assert "15 of 18 runs converged" in out["note"]
    # a loss near zero whose relative change is large but whose absolute change is tiny has converged
    tiny = pd.DataFrame({"net": "residual", "depth": 8, "seed": 0, "condition": "epoch", "metric": "train_loss",
                         "epoch": range(10), "value": [1.0] * 8 + [0.002, 0.001]})
    c = analysis.convergence(tiny)
    assert c["rel"].item() == pytest.approx(0.5) and analysis.converged(c, THRESHOLDS).item()


def test_note_gives_mean_and_best_test_error_of_the_residual_nets():
    table = make_table()
    errs = analysis.residual_errors(table)
    assert errs["depth"].tolist() == [8, 20, 44] and (errs["seeds"] == 3).all()
    acc = table[(table["net"] == "residual") & (table["depth"] == 44) & (table["condition"] == "test")]["value"]
    assert errs.iloc[-1]["best"] == pytest.approx(100 * (1 - acc.max()))
    assert errs.iloc[-1]["mean"] == pytest.approx(100 * (1 - acc.mean()))
    note = decide(table)["note"]
    assert "mean (best) of 3 seeds" in note and "their mean 6.61 %" in note


def test_note_states_computed_numbers_in_the_direction_of_the_data():
    table = make_table()
    summary = summarize(table)
    note = decide(table)["note"]
    g = summary[(summary["metric"] == "log10_grad_norm") & (summary["condition"] == "grad_init")
                & (summary["net"] == "plain") & (summary["depth"] == 44) & (summary["kind"] == "conv")]
    first = 10 ** g.sort_values("layer")["mean"].iloc[0]
    assert f"{first:.3g} at the first convolution" in note
    assert "span 0.80 decades (mean over seeds), narrower than the plain net's 2.50" in note
    assert "narrow band" not in note
    wide = decide(make_table(spread_res=3.0, spread_plain=2.5))["note"]
    assert "span 3.00 decades (mean over seeds), wider than the plain net's 2.50" in wide


def test_verdict_does_not_hold_when_depth_costs_nothing_without_shortcuts():
    out = decide(make_table(plain_deep_loss=0.1, plain_deep_acc=0.95, spread_plain=0.8))
    assert out["verdict"] == "does not hold"
    assert [e["outcome"] for e in out["evidence"]] == ["fail", "pass", "fail", "fail"]


def test_verdict_inconclusive_when_the_seeds_disagree():
    out = decide(make_table(res_deep_loss=0.1, noise=0.2))
    assert out["verdict"] == "inconclusive"
    assert "inconclusive" in [e["outcome"] for e in out["evidence"]]


def test_accuracy_evaluation_rows_carry_per_example_values_of_the_test_split(digits_data, run_cfg):
    """The study's `accuracy` evaluations (test and train split) keep one value per example."""
    from convstudies.evaluations import get_evaluation

    torch.manual_seed(0)
    model = create_model("resnet_cifar", in_shape=(1, 8, 8), num_classes=10, depth=8, width=4)
    for split, n in (("test", len(digits_data.y_test)), ("train", len(digits_data.y_train))):
        for row in get_evaluation("accuracy")(model, digits_data, run_cfg, split=split):
            v = row["per_example"]
            assert v.shape == (n,) and float(v.mean()) == pytest.approx(row["value"], rel=1e-5)
    assert len(digits_data.y_test) == N_TEST


def test_key_table_and_figures_render():
    import matplotlib

    matplotlib.use("Agg")
    table = make_table()
    summary = summarize(table)
    key = analysis.key_table(summary)
    assert key["depth"].tolist() == ["8", "20", "44"]
    assert {"train loss plain", "train loss residual", "test accuracy residual", "parameters"} <= set(key.columns)
    for fn in (figures.training_curves, figures.depth_effect, figures.gradient_norms):
        fig = fn(table, summary)
        assert len(fig.axes) == 2


def test_derive_adds_log10_gradient_norms():
    table = make_table()
    g, logs = (table[table["metric"] == m] for m in ("grad_norm", "log10_grad_norm"))
    assert len(logs) == len(g) and np.allclose(logs["value"].to_numpy(), np.log10(g["value"].to_numpy()))
    no_grads = table[~table["metric"].isin(["grad_norm", "log10_grad_norm"])]
    assert analysis.derive(no_grads) is no_grads


# ---------------------------------------------------------------- the full scale: He et al. (2016), section 4.2

def full_points(phase):
    from convstudies.config import expand_points, load_study

    return expand_points(load_study("residual"), "full", "residual", phase)


def steps_taken(train_cfg, n_train):
    """Optimiser steps of a run as the engine counts them (engine.train.fit): whole epochs of
    ceil(n / batch) steps, at least `epochs` and enough to take `min_steps`."""
    import math

    per_epoch = math.ceil(n_train / train_cfg["batch_size"])
    return per_epoch * max(train_cfg["epochs"], math.ceil(train_cfg["min_steps"] / per_epoch))


@pytest.mark.parametrize("phase,n_train,steps", [("development", 45_000, 64_064), ("confirmation", 50_000, 64_124)])
def test_full_scale_follows_the_papers_protocol(phase, n_train, steps):
    from convstudies.engine.module import lr_factor

    points = full_points(phase)
    assert {(p["labels"]["net"], p["config"]["model"]["depth"]) for p in points.values()} == {
        *(("plain", d) for d in (20, 32, 44, 56)), *(("residual", d) for d in (20, 32, 44, 56, 110))}
    for pid, p in points.items():
        cfg, t = p["config"], p["config"]["train"]
        assert cfg["data"]["dataset"] == "cifar10_pixelmean"
        assert bool(cfg["data"].get("train_on_val")) == (phase == "confirmation")  # 45k/5k, then all 50k
        assert cfg["model"]["width"] == 16 and cfg["model"]["shortcut"] == "A"
        assert (t["optimizer"], t["lr"], t["momentum"], t["nesterov"], t["weight_decay"], t["batch_size"]) == (
            "sgd", 0.1, 0.9, False, 1e-4, 128)
        assert (t["augment_shift"], t["augment_flip"], t["augment_affine"]) == (4, True, None)
        # 64k iterations in whole epochs: at most one epoch's steps beyond 64,000
        assert t["min_steps"] == 64_000 and steps_taken(t, n_train) == steps
        assert t["schedule"] == "multistep" and t["milestones"] == [32_000, 48_000]
        deep = cfg["model"]["depth"] == 110
        assert (t["warmup_steps"], t["warmup_lr"]) == ((400, 0.01) if deep else (0, 0.01)), pid  # only ResNet-110
        lr = lr_factor({**t, "epochs": steps}, steps)
        assert [round(t["lr"] * lr(s), 6) for s in (0, 399, 400, 31_999, 32_000, 47_999, 48_000, 64_000)] == (
            [0.01, 0.01] if deep else [0.1, 0.1]) + [0.1, 0.1, 0.01, 0.01, 0.001, 0.001]


def test_full_scale_anchors_require_the_protocol():
    from convstudies.anchors import unmet_requirements
    from convstudies.config import load_study

    anchors = load_study("residual")["anchors"]
    assert [a["paper"] for a in anchors] == [8.75, 7.51, 7.17, 6.97, 6.61]  # table 6; 110: mean of 5 (best 6.43)
    for phase in ("development", "confirmation"):
        points = full_points(phase)
        for a in anchors:
            unmet = unmet_requirements(a["requires"], points[a["point"]["full"]]["config"], "full", phase)
            assert (unmet == []) == (phase == "confirmation"), (a["name"], unmet)


def test_augment_shift_with_zero_fill_is_pad_and_crop():
    """A 4-px shift with zero fill equals zero-padding 4 px on each side and cropping 32x32 at
    offset (4 - dy, 4 - dx): the same set of images as the paper's pad-and-crop (in the normalised
    input, so the fill is the mean image)."""
    from convstudies.shifts import translate

    x = torch.randn(5, 3, 32, 32)
    dy, dx = torch.tensor([-4, -1, 0, 3, 4]), torch.tensor([4, 0, -3, 2, -4])
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
    crops = torch.stack([padded[i, :, 4 - int(dy[i]):36 - int(dy[i]), 4 - int(dx[i]):36 - int(dx[i])] for i in range(5)])
    assert torch.equal(translate(x, dy, dx), crops)


def test_cifar10_pixelmean_subtracts_the_training_mean_image(tmp_path):
    import pickle

    from convstudies.datasets import build_dataset
    from convstudies.datasets.sources import CIFAR_NAMES, missing_items

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in CIFAR_NAMES:
        d = {b"data": rng.integers(0, 256, (40, 3072), dtype=np.uint8), b"labels": list(np.arange(40) % 10)}
        (folder / name).write_bytes(pickle.dumps(d))
    assert missing_items("cifar10_pixelmean", tmp_path) == []
    ds = build_dataset("cifar10_pixelmean", root=tmp_path)
    assert ds.x_train.shape == (180, 3, 32, 32) and ds.x_val.shape == (20, 3, 32, 32) and ds.x_test.shape == (40, 3, 32, 32)
    assert torch.allclose(ds.x_train.mean(0), torch.zeros(3, 32, 32), atol=1e-5)  # per pixel and channel
    plain = build_dataset("cifar10", root=tmp_path)  # same split, same images: only the normalisation differs
    assert torch.equal(ds.y_train, plain.y_train) and torch.equal(ds.y_test, plain.y_test)
    from convstudies.datasets.vision import CIFAR_MEAN, CIFAR_STD

    std, mean = torch.tensor(CIFAR_STD)[:, None, None], torch.tensor(CIFAR_MEAN)[:, None, None]
    raw = plain.x_test * std + mean
    assert torch.allclose(ds.x_test, raw - (plain.x_train * std + mean).mean(0), atol=1e-5)
