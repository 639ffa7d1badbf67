"""weight_sharing study: the paired advantages, the verdict logic, the key table and the figures.

The locally-connected layer and net themselves are tested in tests/models/test_local.py.
"""

import pytest

from convstudies.config import load_study
from convstudies.stats import summarize
from convstudies.studies.weight_sharing import analysis as study
from convstudies.studies.weight_sharing import figures
from convstudies.verdicts import HOLDS, INCONCLUSIVE, NOT_HOLDS
from helpers.tables import synthetic_table

THRESHOLDS = load_study("weight_sharing")["thresholds"]


def hand_made_table(acc: dict, seeds=(0, 1, 2), spread=0.004):
    """acc: model -> {train_fraction: test accuracy}; each seed adds its own offset to every model alike.

    An accuracy given as a list has one value per seed instead.
    """
    params = {study.FC: 269322, study.LOCAL: 103546, study.CONV: 9250}
    short = {study.FC: "fc", study.LOCAL: "local", study.CONV: "conv"}
    points = {f"{short[m]}-train_fraction{frac:g}": {"model": m, "train_fraction": frac}
              for m, by_frac in acc.items() for frac in by_frac}

    def values(point, labels, seed):
        a = acc[labels["model"]][labels["train_fraction"]]
        value = a[seed] if isinstance(a, list) else a + spread * seed
        yield {"condition": "test", "metric": "accuracy", "value": value}
        yield {"condition": "final", "metric": "params", "value": params[labels["model"]]}
        yield {"condition": "final", "metric": "n_train", "value": round(3500 * labels["train_fraction"])}

    return study.derive(synthetic_table(points, values, seeds=seeds, study="weight_sharing"))


REGULARISER = {study.FC: {0.03: 0.65, 0.3: 0.88, 1.0: 0.93},
               study.LOCAL: {0.03: 0.70, 0.3: 0.90, 1.0: 0.94},
               study.CONV: {0.03: 0.78, 0.3: 0.93, 1.0: 0.955}}


def test_derive_pairs_runs_by_seed_and_size():
    table = hand_made_table(REGULARISER)
    adv = table[table.condition == "advantage"]
    assert len(adv) == 3 * 3 * 3  # comparisons x sizes x seeds
    row = adv[(adv.comparison == "conv - FC") & (adv.train_fraction == 0.03) & (adv.seed == 2)]
    assert row["value"].item() == pytest.approx(0.13)
    assert row["point"].item() == "conv-train_fraction0.03"


def test_verdict_holds_for_a_regulariser():
    table = hand_made_table(REGULARISER)
    result = study.verdict(table, summarize(table), THRESHOLDS)
    assert result["verdict"] == HOLDS
    shrink = result["evidence"][2]
    assert shrink["estimate"] == pytest.approx(0.13 - 0.025)
    assert "Locality alone" in result["note"] and "105 digits: +0.050" in result["note"]


def test_verdict_does_not_hold_when_the_nets_learn_alike_from_few_digits():
    same = {m: {0.03: 0.76, 0.3: 0.90, 1.0: 0.93 + 0.01 * (m == study.CONV)} for m in study.MODELS}
    table = hand_made_table(same)
    result = study.verdict(table, summarize(table), THRESHOLDS)
    assert result["verdict"] == NOT_HOLDS
    # equal at ~100 digits: no regularising advantage; conv - local = 0 exactly still passes ">= 0"
    assert [e["outcome"] for e in result["evidence"]] == ["fail", "pass", "fail"]


def test_verdict_inconclusive_when_seeds_disagree_at_the_smallest_size():
    noisy = {**REGULARISER, study.CONV: {0.03: [0.68, 0.78, 0.88], 0.3: 0.93, 1.0: 0.955}}
    table = hand_made_table(noisy)
    assert study.verdict(table, summarize(table), THRESHOLDS)["verdict"] == INCONCLUSIVE


def test_key_table_has_one_row_per_size_with_parameters_in_the_headers():
    key = study.key_table(summarize(hand_made_table(REGULARISER)))
    assert list(key["training digits"]) == ["105", "1,050", "3,500"]
    assert "convolutional (9,250 parameters)" in key.columns
    assert key["conv - FC"].iloc[0] == pytest.approx(0.13)


def test_thresholds_of_the_study_file():
    assert THRESHOLDS == {"conv_fc_small_min": 0.05, "conv_local_small_min": 0.0, "advantage_shrink_min": 0.02}


@pytest.mark.parametrize("name", ["learning_curves", "advantage"])
def test_figures_draw(name):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    assert name in load_study("weight_sharing")["figures"]
    fig = getattr(figures, name)(None, summarize(hand_made_table(REGULARISER)))
    try:
        ax = fig.axes[0]
        assert ax.get_xscale() == "log"
        assert [t.get_text() for t in ax.get_xticklabels()] == ["105", "1,050", "3,500"]
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        if name == "learning_curves":
            assert labels == study.MODELS
            assert 0.6 < min(ax.get_lines()[0].get_ydata()) < max(ax.get_lines()[2].get_ydata()) < 1
        else:
            assert labels == ["convolutional - fully-connected", "convolutional - locally-connected",
                              "locally-connected - fully-connected"]
            assert list(ax.get_lines()[0].get_ydata()) == pytest.approx([0.13, 0.05, 0.025])
    finally:
        plt.close(fig)
