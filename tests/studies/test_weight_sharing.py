"""weight_sharing study: LeCun (1989)'s five nets, the gaps, the paired advantages, the verdict, the key
table and the figures; the nets' free-parameter counts against the paper's; the 16x16 digits."""

import numpy as np
import pytest

from convstudies.config import load_study
from convstudies.stats import summarize
from convstudies.studies.weight_sharing import analysis as study
from convstudies.studies.weight_sharing import figures
from convstudies.verdicts import HOLDS, INCONCLUSIVE, NOT_HOLDS
from helpers.tables import examples_of, synthetic_table

SPEC = load_study("weight_sharing")
THRESHOLDS = SPEC["thresholds"]
N_TEST = 1000  # mnist5k's test digits
PARAMS = {"Net-1": 2570, "Net-2": 3214, "Net-3": 1226, "Net-4": 1132, "Net-5": 1060}  # LeCun 1989


def _per_digit(rate, rng, difficulty):
    """0/1 per test digit with exactly round(rate * N) ones, on the easiest digits give or take noise
    (``difficulty`` is shared by every net and seed: the same digits are hard for all of them)."""
    k = round(rate * len(difficulty))
    out = np.zeros(len(difficulty))
    out[np.argsort(difficulty + rng.normal(0, 0.6, len(difficulty)))[:k]] = 1.0
    return out


def hand_made_table(acc: dict, seeds=(0, 1, 2), spread=0.004, train_acc=1.0):
    """acc: net -> {n_train: test accuracy}; each seed adds its own offset to every net alike. An accuracy
    given as a list has one value per seed instead. Test rows carry one 0/1 value per test digit."""
    points = {f"net{m[-1]}-n_train{n}": {"model": m, "architecture": study.ARCHITECTURE[m], "n_train": n}
              for m, by_n in acc.items() for n in by_n}
    rng = np.random.default_rng(0)
    difficulty = rng.normal(size=N_TEST)

    def values(point, labels, seed):
        a = acc[labels["model"]][labels["n_train"]]
        value = a[seed] if isinstance(a, list) else a + spread * seed
        yield {"condition": "test", "metric": "accuracy", "per_example": _per_digit(value, rng, difficulty)}
        t = train_acc[labels["model"]] if isinstance(train_acc, dict) else train_acc
        yield {"condition": "train", "metric": "accuracy", "value": t}
        yield {"condition": "final", "metric": "params", "value": PARAMS[labels["model"]]}
        yield {"condition": "final", "metric": "n_train", "value": labels["n_train"] - (labels["n_train"] == 3500) * 8}

    table = synthetic_table(points, values, seeds=seeds, study="weight_sharing")
    examples = examples_of(table)
    return study.derive(table), examples


def _summarize(table):
    return summarize(table.drop(columns=["examples"], errors="ignore"))


def run_verdict(table, examples):
    return study.verdict(table, _summarize(table), THRESHOLDS, examples)


LECUN = {"Net-1": {320: 0.80, 1000: 0.86, 3500: 0.90}, "Net-2": {320: 0.82, 1000: 0.88, 3500: 0.93},
         "Net-3": {320: 0.83, 1000: 0.89, 3500: 0.93}, "Net-4": {320: 0.88, 1000: 0.92, 3500: 0.95},
         "Net-5": {320: 0.92, 1000: 0.95, 3500: 0.97}}


def test_thresholds_and_design_of_the_study_file():
    assert THRESHOLDS == {"shared_fc_small_min": 0.05, "sharing_small_min": 0.0}
    assert SPEC["defaults"]["data"]["dataset"] == "mnist5k_16"
    nets = {e["labels"]["model"]: e["set"] for e in SPEC["grid"]}
    assert list(nets) == study.NETS
    assert [s["model"] for s in nets.values()] == [{"name": "lecun1989", "net": k} for k in range(1, 6)]
    # each net its own recipe from the stated grid; one budget (steps) for all
    for s in nets.values():
        t = s["train"]
        assert set(t) == {"optimizer", "lr", "weight_decay", "schedule"}
        assert t["lr"] in ({"adam": (0.001, 0.003, 0.01), "sgd": (0.01, 0.03, 0.1)}[t["optimizer"]])
        assert t["weight_decay"] in (0.0, 0.001) and t["schedule"] in ("constant", "cosine")
    assert SPEC["defaults"]["train"]["min_steps"] == 500 and SPEC["defaults"]["train"]["epochs"] == 1
    assert SPEC["scales"]["full"]["data"]["dataset"] == "mnist_16"
    assert [a["paper"] for a in SPEC["anchors"]] == [80.0, 87.0, 88.5, 94.0, 98.4]
    assert all(a["requires"]["data.n_train"] == 320 for a in SPEC["anchors"])


def test_derive_adds_gaps_and_paired_advantages():
    table, _ = hand_made_table(LECUN, train_acc={m: 1.0 for m in study.NETS})
    gap = table[(table.condition == "gap") & (table.model == "Net-2") & (table.n_train == 320) & (table.seed == 1)]
    assert gap["value"].item() == pytest.approx(1.0 - 0.824)
    adv = table[table.condition == "advantage"]
    assert len(adv) == len(study.COMPARISONS) * 3 * 3  # comparisons x sizes x seeds
    row = adv[(adv.comparison == "Net-5 - Net-2") & (adv.n_train == 320) & (adv.seed == 2)]
    assert row["value"].item() == pytest.approx(0.10)
    assert row["point"].item() == "net5-n_train320"


def test_verdict_holds_for_lecuns_ordering():
    result = run_verdict(*hand_made_table(LECUN))
    assert result["verdict"] == HOLDS
    first, second = result["evidence"]
    assert first["name"] == "Net-5 - Net-2 test accuracy, 320 training digits"
    assert first["estimate"] == pytest.approx(0.10)
    assert second["estimate"] == pytest.approx(0.05)
    assert result["invariants"] == []


def test_evidence_is_the_two_way_interval_of_per_digit_differences():
    from convstudies.intervals import paired_difference
    from convstudies.stats import example_matrix

    table, examples = hand_made_table(LECUN)
    first = run_verdict(table, examples)["evidence"][0]
    conds = {"condition": "test", "metric": "accuracy", "n_train": 320}
    want = paired_difference(example_matrix(table, examples, model="Net-5", **conds),
                             example_matrix(table, examples, model="Net-2", **conds))
    assert (first["estimate"], first["ci_low"], first["ci_high"]) == pytest.approx(want)
    # every seed alike: the interval still counts test-set sampling
    flat = run_verdict(*hand_made_table(LECUN, spread=0.0))
    assert all(e["ci_high"] - e["ci_low"] > 0.01 for e in flat["evidence"])


def test_verdict_does_not_hold_when_constrained_nets_learn_no_better():
    same = {m: {320: 0.84, 1000: 0.89, 3500: 0.93} for m in study.NETS}
    result = run_verdict(*hand_made_table(same))
    assert result["verdict"] == NOT_HOLDS
    assert [e["outcome"] for e in result["evidence"]] == ["fail", "inconclusive"]


def test_verdict_inconclusive_when_seeds_disagree():
    noisy = {**LECUN, "Net-5": {320: [0.80, 0.90, 0.99], 1000: 0.95, 3500: 0.97}}
    assert run_verdict(*hand_made_table(noisy))["verdict"] == INCONCLUSIVE


def test_note_states_parameters_gaps_and_the_other_comparisons():
    fit = {"Net-1": 0.95, "Net-2": 1.0, "Net-3": 0.97, "Net-4": 0.98, "Net-5": 0.99}
    note = run_verdict(*hand_made_table(LECUN, train_acc=fit))["note"]
    assert "Free parameters: Net-1 2,570, Net-2 3,214, Net-3 1,226, Net-4 1,132, Net-5 1,060." in note
    assert "Net-2 0.824 (gap +0.176)" in note
    assert "Net-3 - Net-2 test accuracy (paired on seeds and test digits): 320 digits +0.010" in note
    assert "With 3,492 training digits, Net-5 - Net-2 is +0.040" in note
    assert "ranges from 95.0% (lowest: Net-1, 320 digits, seed 0) to 100.0%" in note


def test_key_table_one_row_per_net_with_parameters_accuracy_and_gap():
    key = study.key_table(_summarize(hand_made_table(LECUN, train_acc=1.0)[0]))
    assert list(key["net"]) == study.NETS
    assert list(key["free parameters"]) == ["2,570", "3,214", "1,226", "1,132", "1,060"]
    assert list(key.columns[3:]) == ["test accuracy, 320 digits", "gap, 320 digits", "test accuracy, 1,000 digits",
                                     "gap, 1,000 digits", "test accuracy, 3,492 digits", "gap, 3,492 digits"]
    assert key["test accuracy, 320 digits"].iloc[4] == pytest.approx(0.924)
    assert key["gap, 320 digits"].iloc[4] == pytest.approx(1 - 0.924)


@pytest.mark.parametrize("name", ["accuracy_vs_parameters", "learning_curves"])
def test_figures_draw(name):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    assert name in SPEC["figures"]
    fig = getattr(figures, name)(None, _summarize(hand_made_table(LECUN)[0]))
    try:
        ax = fig.axes[0]
        assert ax.get_xscale() == "log"
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        if name == "learning_curves":
            assert labels == study.NETS
            assert [t.get_text() for t in ax.get_xticklabels()] == ["320", "1,000", "3,492"]
        else:
            assert labels == ["320 digits", "1,000 digits", "3,492 digits"]
            assert [t.get_text() for t in ax.get_xticklabels()] == ["1,060", "1,132", "1,226", "2,570", "3,214"]
            assert fig.axes[1].get_ylabel() == "training minus test accuracy"
    finally:
        plt.close(fig)


def test_lecun1989_nets_have_the_papers_free_parameters():
    import torch

    from convstudies.models import create_model

    for k, m in enumerate(study.NETS, start=1):
        net = create_model("lecun1989", in_shape=(1, 16, 16), num_classes=10, net=k)
        assert sum(p.numel() for p in net.parameters()) == PARAMS[m]
        assert net(torch.zeros(2, 1, 16, 16)).shape == (2, 10)
    with pytest.raises(ValueError, match="net must be one of"):
        create_model("lecun1989", net=6)


def test_net4_and_net5_share_weights_net3_does_not():
    """Shifting a digit by the stride (2 px) shifts a shared layer's response by one unit (its per-unit
    biases aside); a locally-connected layer's units each have their own weights."""
    import torch

    from convstudies.models import create_model

    torch.manual_seed(0)
    x = torch.zeros(1, 1, 16, 16)
    x[0, 0, 6:9, 6:9] = 1.0
    shifted = torch.roll(x, 2, dims=3)
    for k, shared in ((3, False), (4, True), (5, True)):
        h1 = create_model("lecun1989", net=k).features[0]
        with torch.no_grad():
            a, b = h1(x) - h1.bias, h1(shifted) - h1.bias
        assert torch.allclose(a[..., :-1], b[..., 1:], atol=1e-6) == shared


def test_mnist5k_16_is_mnist5k_resampled(monkeypatch):
    import torch

    from convstudies.datasets import base, embedded

    x = torch.rand(30, 1, 28, 28)
    fake = base.TensorDataset("mnist5k", x[:10], torch.arange(10), x[10:20], torch.arange(10), x[20:],
                              torch.arange(10), 10)
    monkeypatch.setattr(embedded, "mnist5k", lambda: fake)
    ds = embedded.mnist5k_16()
    assert ds.name == "mnist5k_16" and ds.in_shape == (1, 16, 16) and len(ds.y_test) == 10
    assert float(ds.x_train.min()) >= 0.0 and float(ds.x_train.max()) <= 1.0
    assert torch.equal(ds.y_val, fake.y_val)


def test_mnist_16_reads_the_mnist_files_and_resamples(tmp_path):
    """The full scale's dataset: torchvision's MNIST files (offline: the files already there), 16x16."""
    from convstudies.datasets import build_dataset
    from convstudies.datasets.sources import unavailable
    from helpers.idx import write_idx

    assert any("mnist_16: train-images-idx3-ubyte missing" in m
               for m in unavailable({"mnist_16"}, tmp_path, is_online=lambda h: False))
    rng = np.random.default_rng(0)
    for split, n in (("train", 200), ("test", 50)):
        write_idx(tmp_path / "MNIST" / "raw", split, rng.integers(0, 256, (n, 28, 28)), np.arange(n) % 10)
    assert unavailable({"mnist_16"}, tmp_path, is_online=lambda h: False) == []
    ds = build_dataset("mnist_16", root=tmp_path)
    assert ds.in_shape == (1, 16, 16) and len(ds.y_test) == 50 and len(ds.y_train) + len(ds.y_val) == 200
