"""mlp_depth study: the gap derivation, the verdict on hand-made tables, the key table, parameter counts, figures."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from helpers.tables import examples_of, synthetic_table

from convstudies.config import expand_points, load_study
from convstudies.models import create_model
from convstudies.stats import summarize as _summarize
from convstudies.studies.mlp_depth import analysis, figures
from convstudies.verdicts import HOLDS, INCONCLUSIVE, NOT_HOLDS

THRESHOLDS = {"param_growth_min": 2.0, "gap_min": 0.05, "depth_gap_increase_min": 0.02, "cnn_margin_min": 0.0,
              "cnn_param_fraction_max": 0.25}


def n_params(m):
    return sum(p.numel() for p in m.parameters())


POINTS = {"depth-depth1": (1, 256), "depth-depth2": (2, 256), "depth-depth4": (4, 256), "depth-depth8": (8, 256),
          "width-width64": (2, 64), "width-width512": (2, 512), "cnn": (None, None)}


N_TEST = 1000


def summarize(table):
    """The summary over seeds; the per-run ``examples`` key is not a grouping column (each run has its own)."""
    return _summarize(table.drop(columns=["examples"], errors="ignore"))


def _right(acc, order):
    """Per-example correctness with exactly round(acc * N) right: the easiest digits in ``order`` (a
    seed's ranking of the test digits by difficulty, shared by every model of that seed)."""
    right = np.zeros(N_TEST)
    right[order[:round(acc * N_TEST)]] = 1.0
    return right


def hand_made_table(test_acc: dict, seeds=(0, 1, 2), jitter=0.002, cnn_params=9250, val_acc: dict | None = None):
    """Runs as the workflow records them: train, test (per test digit) and validation accuracy and the
    parameter count per point. ``val_acc`` defaults to the test accuracy of each point."""
    params = {p: cnn_params if p == "cnn" else n_params(create_model("mlp_bn", depth=d, width=w))
              for p, (d, w) in POINTS.items()}
    orders = {s: np.random.default_rng(s).permutation(N_TEST) for s in seeds}

    def values(point, labels, seed):
        acc = test_acc[point][seed] if isinstance(test_acc[point], list) else test_acc[point] + jitter * seed
        val = (val_acc or {}).get(point, test_acc[point] if not isinstance(test_acc[point], list) else acc)
        # learning curves: three epochs, validation best at the second (val + 0.01), then val at the last
        curve = [(0.6, val - 0.05), (0.95, val + 0.01), (1.0, val)]
        epochs = [{"condition": "epoch", "epoch": e, "metric": m, "value": v}
                  for e, (tr, va) in enumerate(curve) for m, v in (("train_acc", tr), ("val_acc", va))]
        return [{"condition": "train", "metric": "accuracy", "value": 1.0, "per_example": np.ones(500)},
                {"condition": "test", "metric": "accuracy", "per_example": _right(acc, orders[seed])},
                {"condition": "final", "metric": "val_acc", "value": val},
                {"condition": "final", "metric": "params", "value": params[point]}, *epochs]

    points = {p: {"model": "CNN" if p == "cnn" else "MLP", "depth": d, "width": w} for p, (d, w) in POINTS.items()}
    table = synthetic_table(points, values, seeds=seeds, study="mlp_depth")
    examples, table.attrs = examples_of(table), {}  # pandas cannot concatenate frames whose attrs hold arrays
    table = analysis.derive(table)
    table.attrs["examples"] = examples
    return table


def verdict(table):
    return analysis.verdict(table, summarize(table), THRESHOLDS, examples_of(table))


DEEP_OVERFITS = {"depth-depth1": 0.87, "depth-depth2": 0.87, "depth-depth4": 0.85, "depth-depth8": 0.78,
                 "width-width64": 0.86, "width-width512": 0.87, "cnn": 0.92}


def test_derive_adds_one_gap_row_per_run():
    table = hand_made_table(DEEP_OVERFITS)
    gaps = table[table.condition == "gap"]
    assert len(gaps) == 7 * 3
    g = gaps[(gaps.point == "depth-depth8") & (gaps.seed == 1)]
    assert g["value"].item() == pytest.approx(1.0 - 0.782)
    assert g["metric"].item() == "accuracy_gap" and g["depth"].item() == 8


def test_derive_adds_the_learning_curve_quantities_per_run():
    table = hand_made_table(DEEP_OVERFITS, val_acc={**DEEP_OVERFITS, "depth-depth8": 0.80})
    curve = table[(table.condition == "curve") & (table.point == "depth-depth8") & (table.seed == 1)]
    got = dict(zip(curve["metric"], curve["value"]))
    assert got == pytest.approx({"best_val_epoch": 2, "last_epoch": 3, "val_acc_best": 0.81, "val_acc_last": 0.80,
                                 "val_acc_lost": 0.01, "gap_best": 0.95 - 0.81, "gap_last": 0.20})
    assert curve["depth"].eq(8).all() and len(table[table.condition == "curve"]) == 7 * 3 * 7


def test_derive_without_learning_curves_adds_no_curve_rows():
    table = hand_made_table(DEEP_OVERFITS)
    bare = table[~table.condition.isin(["epoch", "curve", "gap"])].drop(columns="epoch")
    out = analysis.derive(bare)
    assert "curve" not in set(out.condition) and len(out[out.condition == "gap"]) == 7 * 3


def test_verdict_holds_when_the_deep_mlp_overfits_most():
    table = hand_made_table(DEEP_OVERFITS)
    result = verdict(table)
    assert result["verdict"] == HOLDS
    ev = {e["name"]: e for e in result["evidence"]}
    inv = {e["name"]: e for e in result["invariants"]}
    assert inv["parameters: 8 / 1 hidden layers (width 256)"]["estimate"] == pytest.approx(668170 / 204042)
    assert ev["gap increase from 1 to 8 hidden layers"]["estimate"] == pytest.approx(0.09)
    assert "2x512" in result["note"] and "comes with depth" in result["note"]


def test_parameter_arithmetic_is_listed_as_invariants_apart_from_the_evidence():
    result = verdict(hand_made_table(DEEP_OVERFITS))
    names = [e["name"] for e in result["evidence"]]
    inv = {e["name"]: e for e in result["invariants"]}
    assert len(names) == 3 and not any(n.startswith(("parameters", "CNN parameters")) for n in names)
    assert set(inv) == {"parameters: 8 / 1 hidden layers (width 256)",
                        "parameters: |measured - formula| for the depth sweep, params(1) + (L - 1)(w^2 + 3w)",
                        "CNN parameters / smallest MLP (2x64)"}
    assert inv["parameters: |measured - formula| for the depth sweep, params(1) + (L - 1)(w^2 + 3w)"]["estimate"] == 0
    assert all(i["ci_low"] == i["estimate"] == i["ci_high"] and i["outcome"] == "pass" for i in inv.values())


def test_evidence_intervals_count_seeds_and_test_digits():
    result = verdict(hand_made_table(DEEP_OVERFITS))
    for e in result["evidence"]:
        assert e["ci_low"] < e["estimate"] < e["ci_high"], e
        assert "seeds and test digits" in e["meaning"]


def test_verdict_says_so_when_depth_does_not_add_overfitting():
    flat = {**DEEP_OVERFITS, "depth-depth4": 0.87, "depth-depth8": 0.87}
    table = hand_made_table(flat)
    result = verdict(table)
    assert result["verdict"] == NOT_HOLDS
    assert "do not overfit more" in result["note"]
    inc = result["evidence"][1]
    assert f"{inc['estimate']:.3f} [{inc['ci_low']:.3f}, {inc['ci_high']:.3f}]" in result["note"]


def test_verdict_fails_when_the_cnn_is_worse_than_the_best_mlp():
    table = hand_made_table({**DEEP_OVERFITS, "cnn": 0.80})
    assert verdict(table)["verdict"] == NOT_HOLDS


def test_the_best_mlp_is_selected_on_validation_not_on_the_test_digits():
    # on the test digits the 2x512 MLP is best (0.91) and would beat the CNN (0.89); on validation
    # the 1-layer MLP is best (0.90 against 0.80), and the CNN beats it on the test digits
    acc = {**DEEP_OVERFITS, "width-width512": 0.91, "cnn": 0.89}
    val = {**DEEP_OVERFITS, "width-width512": 0.80, "depth-depth1": 0.90}
    result = verdict(hand_made_table(acc, val_acc=val))
    margin = result["evidence"][2]
    assert margin["name"] == "CNN test accuracy - best MLP on validation (1x256)"
    assert margin["estimate"] == pytest.approx(0.89 - 0.87) and margin["outcome"] == "pass"
    assert result["verdict"] == HOLDS
    assert "Best MLP on validation: 1x256 (validation accuracy 0.900)" in result["note"]
    # the same test accuracies with validation agreeing with test: the 2x512 MLP is chosen and the CNN fails
    result = verdict(hand_made_table(acc))
    assert result["evidence"][2]["name"].endswith("(2x512)") and result["verdict"] == NOT_HOLDS


def test_verdict_inconclusive_when_the_gap_increase_straddles_the_threshold():
    # seeds disagree about the 8-layer MLP: gaps 0.20, 0.15, 0.10 against 0.13 for one layer
    table = hand_made_table({**DEEP_OVERFITS, "depth-depth8": [0.80, 0.85, 0.90]}, jitter=0.0)
    result = verdict(table)
    assert result["verdict"] == INCONCLUSIVE
    assert "not decided" in result["note"]
    inc = result["evidence"][1]
    assert inc["ci_low"] < THRESHOLDS["depth_gap_increase_min"] < inc["ci_high"]
    assert f"{inc['estimate']:.3f} [{inc['ci_low']:.3f}, {inc['ci_high']:.3f}]" in result["note"]


def test_note_states_computed_gaps_and_training_accuracies():
    table = hand_made_table(DEEP_OVERFITS)
    note = verdict(table)["note"]
    assert "8x256: 0.218" in note and "1x256: 0.128" in note  # mean gaps: 1 - (0.78 or 0.87 + 0.002 mean jitter)
    assert "Accuracy on the training digits: MLPs 1.000-1.000" in note
    assert ("8x256: best at epoch 2.0 of 3, validation accuracy 0.790 there and 0.780 at the end, gap 0.160 there "
            "and 0.220 at the end") in note
    assert "fits its training digits" not in note


def test_key_table_lists_every_model_by_size_with_the_cnn_last():
    key = analysis.key_table(summarize(hand_made_table(DEEP_OVERFITS)))
    assert key["model"].iloc[-1].startswith("CNN")
    assert list(key["parameters"].iloc[:-1]) == sorted(key["parameters"].iloc[:-1])
    row = key[key.model.str.contains("8x256")].iloc[0]
    assert row["gap"] == pytest.approx(1 - 0.782)
    assert row["best val epoch"] == 2 and row["epochs"] == 3
    assert row["val acc (last epoch)"] == pytest.approx(0.78) and row["val acc (best epoch)"] == pytest.approx(0.79)
    assert row["gap at best val epoch"] == pytest.approx(0.95 - 0.79)


def test_study_grid_gives_a_parameter_matched_wide_twin_of_the_deep_mlp():
    points = expand_points(load_study("mlp_depth"), "embedded")
    models = {p: v["config"]["model"] for p, v in points.items()}
    deep = n_params(create_model(**models["depth-depth8"]))
    twin = n_params(create_model(**models["width-width512"]))
    assert abs(twin / deep - 1) < 0.05
    cnn = n_params(create_model(**models["cnn"]))
    assert cnn / n_params(create_model(**models["width-width64"])) < 0.25


def test_verdict_names_a_missing_summary_row():
    table = hand_made_table(DEEP_OVERFITS)
    summary = summarize(table)
    with pytest.raises(ValueError, match=r"expected one summary row for \{'point': 'cnn', 'condition': 'gap'\}"):
        analysis.verdict(table, summary[~((summary.point == "cnn") & (summary.condition == "gap"))], THRESHOLDS,
                         examples_of(table))


def test_every_figure_draws():
    import matplotlib

    matplotlib.use("Agg")
    table = hand_made_table(DEEP_OVERFITS)
    summary = summarize(table)
    for name in load_study("mlp_depth")["figures"]:
        fig = getattr(figures, name)(table, summary)
        assert fig.axes and all(ax.lines for ax in fig.axes)
    left, right = figures.gap_vs_depth(table, summary).axes
    curves = figures.learning_curves(table, summary).axes
    assert [ax.get_title() for ax in curves] == ["MLP, 1 x 256", "MLP, 2 x 256", "MLP, 4 x 256", "MLP, 8 x 256", "CNN"]
    assert all(len(ax.lines) >= 3 for ax in curves)  # training, validation and the best-validation epoch
    assert [t.get_text() for t in left.get_legend().get_texts()][-1] == "CNN, test digits"
    assert right.get_ylim()[0] == 0


def test_accuracy_evaluations_give_one_value_per_example_of_their_split():
    from convstudies.evaluations.common import accuracy

    torch.manual_seed(0)
    data = SimpleNamespace(x_train=torch.rand(23, 1, 28, 28), y_train=torch.randint(0, 10, (23,)),
                           x_test=torch.rand(31, 1, 28, 28), y_test=torch.randint(0, 10, (31,)))
    model = create_model("mlp", depth=2, width=16)
    for split, n in (("test", 31), ("train", 23)):
        acc, loss = accuracy(model, data, {}, split=split)
        for r in (acc, loss):
            v = np.asarray(r["per_example"])
            assert v.shape == (n,) and v.mean() == pytest.approx(r["value"], rel=1e-5)
