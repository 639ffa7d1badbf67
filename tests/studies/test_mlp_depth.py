"""mlp_depth study: the gap derivation, the verdict on hand-made tables, the key table, parameter counts, figures."""

import pytest
from helpers.tables import synthetic_table

from convstudies.config import expand_points, load_study
from convstudies.models import create_model
from convstudies.stats import summarize
from convstudies.studies.mlp_depth import analysis, figures
from convstudies.verdicts import HOLDS, INCONCLUSIVE, NOT_HOLDS

THRESHOLDS = {"param_growth_min": 2.0, "gap_min": 0.05, "depth_gap_increase_min": 0.02, "cnn_margin_min": 0.0,
              "cnn_param_fraction_max": 0.25}


def n_params(m):
    return sum(p.numel() for p in m.parameters())


POINTS = {"depth-depth1": (1, 256), "depth-depth2": (2, 256), "depth-depth4": (4, 256), "depth-depth8": (8, 256),
          "width-width64": (2, 64), "width-width512": (2, 512), "cnn": (None, None)}


def hand_made_table(test_acc: dict, seeds=(0, 1, 2), jitter=0.002, cnn_params=9250):
    """Runs as the workflow records them: train and test accuracy and the parameter count per point."""
    params = {p: cnn_params if p == "cnn" else n_params(create_model("mlp", depth=d, width=w))
              for p, (d, w) in POINTS.items()}

    def values(point, labels, seed):
        acc = test_acc[point][seed] if isinstance(test_acc[point], list) else test_acc[point] + jitter * seed
        return [{"condition": "train", "metric": "accuracy", "value": 1.0},
                {"condition": "test", "metric": "accuracy", "value": acc},
                {"condition": "final", "metric": "params", "value": params[point]}]

    points = {p: {"model": "CNN" if p == "cnn" else "MLP", "depth": d, "width": w} for p, (d, w) in POINTS.items()}
    return analysis.derive(synthetic_table(points, values, seeds=seeds, study="mlp_depth"))


DEEP_OVERFITS = {"depth-depth1": 0.87, "depth-depth2": 0.87, "depth-depth4": 0.85, "depth-depth8": 0.78,
                 "width-width64": 0.86, "width-width512": 0.87, "cnn": 0.92}


def test_derive_adds_one_gap_row_per_run():
    table = hand_made_table(DEEP_OVERFITS)
    gaps = table[table.condition == "gap"]
    assert len(gaps) == 7 * 3
    g = gaps[(gaps.point == "depth-depth8") & (gaps.seed == 1)]
    assert g["value"].item() == pytest.approx(1.0 - 0.782)
    assert g["metric"].item() == "accuracy_gap" and g["depth"].item() == 8


def test_verdict_holds_when_the_deep_mlp_overfits_most():
    table = hand_made_table(DEEP_OVERFITS)
    result = analysis.verdict(table, summarize(table), THRESHOLDS)
    assert result["verdict"] == HOLDS
    ev = {e["name"]: e for e in result["evidence"]}
    assert ev["parameters: 8 / 1 hidden layers (width 256)"]["estimate"] == pytest.approx(664074 / 203530)
    assert ev["gap increase from 1 to 8 hidden layers"]["estimate"] == pytest.approx(0.09)
    assert "2x512" in result["note"] and "comes with depth" in result["note"]


def test_verdict_says_so_when_depth_does_not_add_overfitting():
    flat = {**DEEP_OVERFITS, "depth-depth4": 0.87, "depth-depth8": 0.87}
    table = hand_made_table(flat)
    result = analysis.verdict(table, summarize(table), THRESHOLDS)
    assert result["verdict"] == NOT_HOLDS
    assert "do not overfit more" in result["note"]


def test_verdict_fails_when_the_cnn_is_worse_than_the_best_mlp():
    table = hand_made_table({**DEEP_OVERFITS, "cnn": 0.80})
    assert analysis.verdict(table, summarize(table), THRESHOLDS)["verdict"] == NOT_HOLDS


def test_verdict_inconclusive_when_the_gap_increase_straddles_the_threshold():
    # seeds disagree about the 8-layer MLP: gaps 0.20, 0.15, 0.10 against 0.13 for one layer
    table = hand_made_table({**DEEP_OVERFITS, "depth-depth8": [0.80, 0.85, 0.90]}, jitter=0.0)
    result = analysis.verdict(table, summarize(table), THRESHOLDS)
    assert result["verdict"] == INCONCLUSIVE
    assert "not decided" in result["note"]


def test_key_table_lists_every_model_by_size_with_the_cnn_last():
    key = analysis.key_table(summarize(hand_made_table(DEEP_OVERFITS)))
    assert key["model"].iloc[-1].startswith("CNN")
    assert list(key["parameters"].iloc[:-1]) == sorted(key["parameters"].iloc[:-1])
    row = key[key.model.str.contains("8x256")].iloc[0]
    assert row["gap"] == pytest.approx(1 - 0.782)


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
        analysis.verdict(table, summary[~((summary.point == "cnn") & (summary.condition == "gap"))], THRESHOLDS)


def test_every_figure_draws():
    import matplotlib

    matplotlib.use("Agg")
    table = hand_made_table(DEEP_OVERFITS)
    summary = summarize(table)
    for name in load_study("mlp_depth")["figures"]:
        fig = getattr(figures, name)(table, summary)
        assert fig.axes and all(ax.lines for ax in fig.axes)
    left, right = figures.gap_vs_depth(table, summary).axes
    assert [t.get_text() for t in left.get_legend().get_texts()][-1] == "CNN, test digits"
    assert right.get_ylim()[0] == 0
