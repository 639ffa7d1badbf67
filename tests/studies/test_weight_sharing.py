"""weight_sharing study: the paired advantages, the verdict logic, the key table and the figures.

The locally-connected layer and net themselves are tested in tests/models/test_local.py.
"""

import numpy as np
import pytest

from convstudies.config import load_study
from convstudies.stats import summarize
from convstudies.studies.weight_sharing import analysis as study
from convstudies.studies.weight_sharing import figures
from convstudies.verdicts import HOLDS, INCONCLUSIVE, NOT_HOLDS
from helpers.tables import examples_of, synthetic_table

THRESHOLDS = load_study("weight_sharing")["thresholds"]


N_TEST = 1000  # mnist5k's test digits


def _per_digit(rate, rng, difficulty):
    """0/1 per test digit with exactly round(rate * N) ones, on the easiest digits give or take noise
    (``difficulty`` is shared by every net and seed: the same digits are hard for all of them)."""
    k = round(rate * len(difficulty))
    out = np.zeros(len(difficulty))
    out[np.argsort(difficulty + rng.normal(0, 0.6, len(difficulty)))[:k]] = 1.0
    return out


def hand_made_table(acc: dict, seeds=(0, 1, 2), spread=0.004, train_acc=None):
    """acc: model -> {train_fraction: test accuracy}; each seed adds its own offset to every model alike.

    An accuracy given as a list has one value per seed instead. The test-accuracy rows carry one
    0/1 value per test digit whose mean is exactly that accuracy. ``train_acc`` (model -> value)
    adds final-epoch training accuracies.
    """
    params = {study.FC: 269322, study.LOCAL: 103546, study.CONV: 9250}
    short = {study.FC: "fc", study.LOCAL: "local", study.CONV: "conv"}
    points = {f"{short[m]}-train_fraction{frac:g}": {"model": m, "train_fraction": frac}
              for m, by_frac in acc.items() for frac in by_frac}
    rng = np.random.default_rng(0)
    difficulty = rng.normal(size=N_TEST)

    def values(point, labels, seed):
        a = acc[labels["model"]][labels["train_fraction"]]
        value = a[seed] if isinstance(a, list) else a + spread * seed
        yield {"condition": "test", "metric": "accuracy", "per_example": _per_digit(value, rng, difficulty)}
        yield {"condition": "final", "metric": "params", "value": params[labels["model"]]}
        yield {"condition": "final", "metric": "n_train", "value": round(3500 * labels["train_fraction"])}
        if train_acc is not None:
            yield {"condition": "final", "metric": "train_acc", "value": train_acc[labels["model"]]}

    table = synthetic_table(points, values, seeds=seeds, study="weight_sharing")
    examples = examples_of(table)
    return study.derive(table), examples


def _summarize(table):
    # convstudies.stats.summarize groups by every non-run column, the per-run ``examples`` key
    # included (one summary row per run); drop it until summarize ignores it
    return summarize(table.drop(columns=["examples"], errors="ignore"))


def run_verdict(table, examples):
    return study.verdict(table, _summarize(table), THRESHOLDS, examples)


REGULARISER = {study.FC: {0.03: 0.65, 0.3: 0.88, 1.0: 0.93},
               study.LOCAL: {0.03: 0.70, 0.3: 0.90, 1.0: 0.94},
               study.CONV: {0.03: 0.78, 0.3: 0.93, 1.0: 0.955}}


def test_derive_pairs_runs_by_seed_and_size():
    table, _ = hand_made_table(REGULARISER)
    adv = table[table.condition == "advantage"]
    assert len(adv) == 3 * 3 * 3  # comparisons x sizes x seeds
    row = adv[(adv.comparison == "conv - FC") & (adv.train_fraction == 0.03) & (adv.seed == 2)]
    assert row["value"].item() == pytest.approx(0.13)
    assert row["point"].item() == "conv-train_fraction0.03"


def test_verdict_holds_for_a_regulariser():
    result = run_verdict(*hand_made_table(REGULARISER))
    assert result["verdict"] == HOLDS
    shrink = result["evidence"][2]
    assert shrink["estimate"] == pytest.approx(0.13 - 0.025)
    assert "Locality alone" in result["note"] and "105 digits: +0.050" in result["note"]


def test_evidence_is_paired_on_seeds_and_test_digits():
    table, examples = hand_made_table(REGULARISER)
    result = run_verdict(table, examples)
    assert len(result["evidence"]) == 3 and result["invariants"] == []
    assert all(e["ci_high"] - e["ci_low"] > 0 for e in result["evidence"])
    first = result["evidence"][0]
    assert first["estimate"] == pytest.approx(0.78 + 0.004 - (0.65 + 0.004))
    # the interval is the two-way interval of the per-digit differences, not a t-interval over seeds
    from convstudies.intervals import paired_difference
    from convstudies.stats import example_matrix

    conds = {"condition": "test", "metric": "accuracy", "train_fraction": 0.03}
    want = paired_difference(example_matrix(table, examples, model=study.CONV, **conds),
                             example_matrix(table, examples, model=study.FC, **conds))
    assert (first["estimate"], first["ci_low"], first["ci_high"]) == pytest.approx(want)


def test_intervals_count_test_sampling_even_when_seeds_agree():
    """Every seed at the same accuracies: a t-interval over seeds would have zero width; this one does not."""
    result = run_verdict(*hand_made_table(REGULARISER, spread=0.0))
    assert all(e["ci_high"] - e["ci_low"] > 0.01 for e in result["evidence"])


def test_verdict_does_not_hold_when_the_nets_learn_alike_from_few_digits():
    same = {m: {0.03: 0.76, 0.3: 0.90, 1.0: 0.93 + 0.01 * (m == study.CONV)} for m in study.MODELS}
    result = run_verdict(*hand_made_table(same))
    assert result["verdict"] == NOT_HOLDS
    # equal at ~100 digits: no regularising advantage. conv - local = 0 exactly passed ">= 0" with a
    # t-interval over seeds (zero width); counting test-set sampling, a zero difference straddles 0
    assert [e["outcome"] for e in result["evidence"]] == ["fail", "inconclusive", "fail"]
    note = result["note"]
    assert "below the pre-registered margin of 0.05" in note
    assert "it grows by 0.010" in note  # computed: 0 at 105 digits, +0.010 at 3,500
    assert "measurably ahead at 3,500 digits:" in note  # +0.010 there, 0 elsewhere
    assert "likely reason" not in note


def test_verdict_inconclusive_when_seeds_disagree_at_the_smallest_size():
    noisy = {**REGULARISER, study.CONV: {0.03: [0.68, 0.78, 0.88], 0.3: 0.93, 1.0: 0.955}}
    assert run_verdict(*hand_made_table(noisy))["verdict"] == INCONCLUSIVE


def test_note_states_computed_numbers():
    fit = {study.FC: 1.0, study.LOCAL: 0.995, study.CONV: 0.97}
    note = run_verdict(*hand_made_table(REGULARISER, train_acc=fit))["note"]
    assert "fully-connected 269,322, locally-connected 103,546, convolutional 9,250" in note
    assert "ranges from 97.0% (lowest: convolutional" in note and "to 100.0%" in note
    assert "3,500) the convolutional net's test accuracy minus the fully-connected one's is +0.025" in note
    worse = run_verdict(*hand_made_table(REGULARISER, train_acc={**fit, study.FC: 0.6}))["note"]
    assert "ranges from 60.0% (lowest: fully-connected" in worse
    assert "every net fits" not in note


def test_weight_sharing_runs_the_accuracy_evaluation_with_per_digit_values(digits_data):
    """The study names no evaluations: the default ``accuracy`` keeps one 0/1 value per test digit."""
    import torch

    from convstudies.evaluations.common import accuracy
    from convstudies.models import create_model

    assert "evaluations" not in load_study("weight_sharing")["defaults"]
    torch.manual_seed(0)
    model = create_model("mlp", in_shape=digits_data.in_shape, depth=2, width=16)
    row = next(r for r in accuracy(model, digits_data, {}) if r["metric"] == "accuracy")
    assert row["per_example"].shape == (len(digits_data.y_test),)
    assert float(row["per_example"].mean()) == pytest.approx(row["value"])


def test_key_table_has_one_row_per_size_with_parameters_in_the_headers():
    key = study.key_table(_summarize(hand_made_table(REGULARISER)[0]))
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
    fig = getattr(figures, name)(None, _summarize(hand_made_table(REGULARISER)[0]))
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
