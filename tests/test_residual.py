import copy

import numpy as np
import pandas as pd
import pytest
import torch

from convstudies.models import create_model
from convstudies.models.resnet import ShortcutA, conv_layers
from convstudies.stats import summarize
from convstudies.studies import residual as study


def n_params(m):
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize("depth,paper", [(20, 0.27), (32, 0.46), (44, 0.66), (56, 0.85), (110, 1.7)])
def test_cifar_resnet_has_the_papers_parameter_counts(depth, paper):
    m = create_model("resnet_cifar", in_shape=(3, 32, 32), depth=depth)
    assert round(n_params(m) / 1e6, 2 if depth < 100 else 1) == paper  # He et al. 2016, table 6
    plain = create_model("resnet_cifar", in_shape=(3, 32, 32), depth=depth, residual=False)
    assert n_params(plain) == n_params(m)  # option A shortcuts are parameter-free: same nets but for the adds
    assert len(conv_layers(m)) == depth  # 6n+2 weighted layers: stem, 6n block convolutions, FC


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


def test_initial_model_is_the_net_fit_starts_from(run_cfg):
    import pytorch_lightning as pl

    cfg = {**run_cfg, "seed": 3, "model": {"name": "resnet_cifar", "depth": 8, "width": 4}}
    torch.manual_seed(123)
    before = torch.rand(1)
    fresh = study.initial_model(cfg, (1, 8, 8), 10)
    torch.manual_seed(123)
    assert torch.equal(torch.rand(1), before)  # the global RNG is left alone
    pl.seed_everything(3, verbose=False)  # what the engine's fit() does before create_model
    ref = create_model("resnet_cifar", in_shape=(1, 8, 8), num_classes=10, depth=8, width=4)
    assert all(torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), ref.state_dict().values()))


def test_layer_grad_norms_rows_and_the_model_is_untouched(run_cfg, digits_data):
    cfg = {**run_cfg, "seed": 0, "model": {"name": "resnet_cifar", "depth": 8, "width": 4}}
    model = study.initial_model(cfg, (1, 8, 8), 10)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(1.5)  # stands for training: differs from the initial net
    state = copy.deepcopy(model.state_dict())
    rows = study.layer_grad_norms(model, digits_data, cfg, n=64)
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())  # BN stats unchanged
    assert all(p.grad is None for p in model.parameters())
    df = pd.DataFrame(rows)
    norms = df[df["metric"] == "grad_norm"]
    assert sorted(norms["condition"].unique()) == ["grad_init", "grad_trained"]
    init = norms[norms["condition"] == "grad_init"]
    assert init["layer"].tolist() == list(range(1, 9)) and init["kind"].tolist() == ["conv"] * 7 + ["fc"]
    assert (norms["value"] > 0).all()
    assert not np.allclose(init["value"], norms[norms["condition"] == "grad_trained"]["value"])
    # the init rows are the gradients of the seed's fresh net, computed by hand
    fresh = study.initial_model(cfg, (1, 8, 8), 10).train()
    torch.nn.functional.cross_entropy(fresh(digits_data.x_train[:64]), digits_data.y_train[:64]).backward()
    assert np.allclose(init["value"], [float(m.weight.grad.norm()) for m in conv_layers(fresh)], rtol=1e-5)
    spread = df[(df["metric"] == "grad_spread") & (df["condition"] == "grad_init")]["value"].item()
    assert spread == pytest.approx(np.log10(init["value"][:7].max() / init["value"][:7].min()))


def test_spread_in_decades():
    assert study.spread_decades([0.1, 1.0, 10.0]) == pytest.approx(2.0)
    assert study.spread_decades([3.0]) == 0.0
    assert np.isnan(study.spread_decades([0.0, 1.0]))


# ---------------------------------------------------------------- verdict on hand-made tables

def make_table(plain_deep_loss=2.0, res_deep_loss=0.02, res_deep_acc=0.95, plain_deep_acc=0.3,
               spread_plain=2.5, spread_res=0.8, noise=0.01, seeds=(0, 1, 2), depths=(8, 20, 44)):
    rng = np.random.default_rng(0)
    rows = []
    for net in ("plain", "residual"):
        for d in depths:
            deep = d == max(depths)
            for s in seeds:
                base = {"point": f"{net}-depth{d}", "net": net, "depth": d, "run": f"seed{s}", "seed": s,
                        "status": "ok"}
                loss = (plain_deep_loss if net == "plain" else res_deep_loss) if deep else 0.1
                acc = (plain_deep_acc if net == "plain" else res_deep_acc) if deep else 0.9
                spread = (spread_plain if net == "plain" else spread_res) if deep else 0.3
                vals = {("train", "loss"): loss, ("test", "accuracy"): acc, ("grad_init", "grad_spread"): spread,
                        ("final", "params"): 1000.0 * d}
                for (c, m), v in vals.items():
                    rows.append({**base, "condition": c, "metric": m, "value": v + noise * rng.standard_normal()})
                for layer in range(1, d + 1):
                    for c in ("grad_init", "grad_trained"):
                        g = 10 ** (spread * (1 - layer / d)) * 0.1 if net == "plain" else 0.3
                        rows.append({**base, "condition": c, "metric": "grad_norm", "layer": layer,
                                     "kind": "fc" if layer == d else "conv", "value": g})
                for e in range(3):
                    rows.append({**base, "condition": "epoch", "epoch": e, "metric": "train_loss",
                                 "value": 2.3 / (e + 1) + noise * rng.standard_normal()})
    return study.derive(pd.DataFrame(rows))


def decide(table):
    thresholds = {"plain_degradation_min": 0.1, "residual_degradation_max": 0.05, "residual_gain_min": 0.05,
                  "grad_spread_gap_min": 0.5}
    return study.verdict(table, summarize(table), thresholds)


def test_verdict_holds_when_plain_nets_degrade_and_residual_nets_do_not():
    out = decide(make_table())
    assert out["verdict"] == "holds", out["evidence"]
    assert "44 minus 8 layers" in out["evidence"][0]["name"]
    assert "grow towards the input" in out["note"] and "ResNet-110 6.43 %" in out["note"]


def test_verdict_does_not_hold_when_depth_costs_nothing_without_shortcuts():
    out = decide(make_table(plain_deep_loss=0.1, plain_deep_acc=0.95, spread_plain=0.8))
    assert out["verdict"] == "does not hold"
    assert [e["outcome"] for e in out["evidence"]] == ["fail", "pass", "fail", "fail"]


def test_verdict_inconclusive_when_the_seeds_disagree():
    out = decide(make_table(res_deep_loss=0.1, noise=0.2))
    assert out["verdict"] == "inconclusive"
    assert "inconclusive" in [e["outcome"] for e in out["evidence"]]


def test_key_table_and_figures_render():
    import matplotlib

    matplotlib.use("Agg")
    table = make_table()
    summary = summarize(table)
    key = study.key_table(summary)
    assert key["depth"].tolist() == ["8", "20", "44"]
    assert {"train loss plain", "train loss residual", "test accuracy residual", "parameters"} <= set(key.columns)
    for fn in (study.training_curves, study.depth_effect, study.gradient_norms):
        fig = fn(table, summary)
        assert len(fig.axes) == 2
