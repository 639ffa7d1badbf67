"""conv1d study: text models, evaluations, derive, verdict, key table and figures (corpora: tests/datasets)."""

import math

import numpy as np
import pandas as pd
import pytest
import torch
from helpers.tables import examples_of, synthetic_table

from convstudies import stats
from convstudies.datasets import text
from convstudies.models import create_model
from convstudies.studies.conv1d import analysis, evaluations, figures


def summarize(table):
    """The summary over seeds, one row per point, condition and metric: the per-run ``examples`` key
    is left out of the grouping (convstudies.stats.summarize groups by every other column)."""
    return stats.summarize(table.drop(columns=["examples"], errors="ignore"))


@pytest.fixture(scope="module")
def negation_data():
    from convstudies.datasets import build_dataset

    return build_dataset("negation")


# ----------------------------------------------------------------------------- models

def n_params(m):
    return sum(p.numel() for p in m.parameters())


def test_text_cnn_shapes_and_parameter_count():
    v, e, k, widths = 100, 8, 5, [3, 4, 5]
    m = create_model("text_cnn", in_shape=(16,), num_classes=2, vocab_size=v, embed_dim=e, maps=k, widths=widths)
    assert n_params(m) == v * e + sum(e * k * w + k for w in widths) + (3 * k * 2 + 2)
    x = torch.randint(0, v, (4, 16)).float()
    assert m(x).shape == (4, 2)
    maps = m.feature_maps(x)
    assert [f.shape for f in maps] == [(4, k, 16 + w - 1) for w in widths]
    assert create_model("text_cnn").fc.in_features == 300  # Kim: 3 widths x 100 maps


def test_text_cnn_pooled_features_and_windows_describe_its_layout():
    torch.manual_seed(0)  # unseeded, ~3 % of draws left every map at the probed position a ReLU zero
    m = create_model("text_cnn", in_shape=(6,), vocab_size=20, embed_dim=4, maps=3, widths=[2, 4], dropout=0.0).eval()
    feats = m.pooled_features()
    assert feats == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)] and len(feats) == m.fc.in_features
    x = torch.randint(8, 20, (5, 6)).float()  # never 7, the id swapped in below
    with torch.no_grad():
        maps = m.feature_maps(x)  # FC column f reads the max over time of map c of width j, (j, c) = feats[f]
        assert torch.allclose(m(x), m.fc(torch.stack([maps[j][:, c].amax(1) for j, c in feats], 1)))
        assert list(m.window(1, 4)) == [1, 2, 3, 4] and list(m.window(0, 0)) == [-1, 0]  # -1: padding
        outside, inside = x.clone(), x.clone()
        outside[:, [0, 5]] = 7.0
        inside[:, 2] = 7.0
        at = lambda ids: m.feature_maps(ids)[1][:, :, 4]  # noqa: E731  (covers tokens 1..4)
        assert torch.equal(at(outside), at(x)) and not torch.equal(at(inside), at(x))


def test_bag_of_words_is_blind_to_word_order_and_padding():
    m = create_model("text_bow", in_shape=(8,), vocab_size=50, embed_dim=6, hidden=5).eval()
    x = torch.tensor([[5.0, 7, 9, 11, 0, 0, 0, 0]])
    perm = torch.tensor([[11.0, 5, 9, 7, 0, 0, 0, 0]])
    assert torch.allclose(m(x), m(perm))
    assert torch.allclose(m(x), m(torch.tensor([[5.0, 7, 9, 11]])))  # padding does not count
    cnn = create_model("text_cnn", in_shape=(8,), vocab_size=50, embed_dim=6, maps=4, widths=[2]).eval()
    assert not torch.allclose(cnn(x), cnn(perm))


def test_token_ids_out_of_range_are_a_clear_error():
    m = create_model("text_cnn", vocab_size=10, embed_dim=4, maps=2)
    with pytest.raises(ValueError, match=r"token ids must lie in \[0, 10\).*got ids from 0 to 12"):
        m(torch.tensor([[1.0, 12.0, 0.0, 0.0, 0.0]]))


# ----------------------------------------------------------------------------- evaluations

def test_shuffle_tokens_permutes_words_and_keeps_padding_at_the_end():
    x = torch.tensor([[1.0, 2, 3, 4, 5, 0, 0], [6.0, 7, 0, 0, 0, 0, 0]])
    s = evaluations.shuffle_tokens(x, seed=0)
    assert torch.equal((s == 0), (x == 0))
    assert all(sorted(a.tolist()) == sorted(b.tolist()) for a, b in zip(s, x))
    assert not torch.equal(s, x)
    assert torch.equal(evaluations.shuffle_tokens(x, seed=0), s)


def _not_good_detector():
    """A width-2 text CNN whose filter 0 fires on 'not good' only, filter 1 on 'good' anywhere."""
    vocab = ["<pad>", "<unk>", "not", "good", "the", "film"]
    m = create_model("text_cnn", in_shape=(6,), vocab_size=len(vocab), embed_dim=len(vocab), maps=2,
                     widths=[2], dropout=0.0)
    with torch.no_grad():
        m.embed.weight.copy_(torch.eye(len(vocab)))
        m.embed.weight[0].zero_()
        w = torch.zeros(2, len(vocab), 2)  # (maps, embed, width): taps at t-1 and t
        w[0, 2, 0], w[0, 3, 1] = 1.0, 1.0  # "not" then "good"
        w[1, 3, 1] = 0.5  # "good"
        m.convs[0].weight.copy_(w)
        m.convs[0].bias.copy_(torch.tensor([-1.0, 0.0]))
        m.fc.weight.copy_(torch.tensor([[1.0, -1.0], [-1.0, 1.0]]))  # filter 0 -> negative, 1 -> positive
        m.fc.bias.zero_()
    return m, vocab


def test_top_ngrams_finds_the_pattern_a_filter_matches():
    m, vocab = _not_good_detector()
    x = torch.tensor(text.encode([["the", "film", "not", "good"], ["good", "not", "the", "film"],
                                  ["not", "the", "good"]], vocab, 6), dtype=torch.float32)
    rows = evaluations.top_ngrams_of(m, x, vocab, filters=2, top=3)
    by_filter = {}
    for r in rows:
        by_filter.setdefault(r["filter"], []).append(r)
    neg = by_filter["width 2, #0"]
    assert neg[0]["ngram"] == "not good" and neg[0]["value"] == pytest.approx(1.0)
    assert neg[0]["points_to"] == "negative" and neg[0]["class_weight"] == pytest.approx(-2.0)
    pos = by_filter["width 2, #1"]
    assert pos[0]["points_to"] == "positive" and pos[0]["ngram"].endswith("good")
    assert {r["metric"] for r in rows} == {"activation"} and all(r["condition"] == "top_ngram" for r in rows)
    # "_" marks padding: a sentence starting with "good" gives the window (pad, good)
    assert "_ good" in [r["ngram"] for r in pos]


def test_registered_evaluations_on_the_negation_data(negation_data):
    """token_shuffle and top_ngrams as the engine calls them: fn(model, data, cfg, **params) -> rows."""
    from convstudies.evaluations import get_evaluation

    torch.manual_seed(0)
    cnn = create_model("text_cnn", in_shape=negation_data.in_shape, vocab_size=64, embed_dim=8, maps=4, widths=[2])
    rows = get_evaluation("token_shuffle")(cnn, negation_data, {})
    assert rows[0]["condition"] == "token_shuffle" and 0 <= rows[0]["value"] <= 1
    right = rows[0]["per_example"]  # one value per test sentence, in the test split's order
    assert right.shape == (len(negation_data.y_test),) and float(right.mean()) == pytest.approx(rows[0]["value"])
    assert set(right.unique().tolist()) <= {0.0, 1.0}
    rows = get_evaluation("top_ngrams")(cnn, negation_data, {}, filters=2, top=3)
    grams = [r["ngram"] for r in rows]
    assert len(grams) == 6 and all(len(g.split()) == 2 for g in grams)
    assert all(w == "_" or w in text.NEGATION_VOCAB for g in grams for w in g.split())
    bow = create_model("text_bow", in_shape=negation_data.in_shape, vocab_size=64, embed_dim=8)
    assert get_evaluation("top_ngrams")(bow, negation_data, {}) == []  # no filters to show
    from convstudies.evaluations.common import accuracy_of

    shuffled = get_evaluation("token_shuffle")(bow, negation_data, {})[0]
    assert shuffled["value"] == pytest.approx(accuracy_of(bow, negation_data.x_test, negation_data.y_test), abs=1e-6)
    from convstudies.evaluations.common import correct  # the invariant: bag of words is right on the same sentences

    assert torch.equal(shuffled["per_example"], correct(bow, negation_data.x_test, negation_data.y_test))


# ----------------------------------------------------------------------------- verdict on synthetic tables

ENTRIES = {"logistic": ("MNIST-1D", "logistic regression"), "mlp": ("MNIST-1D", "MLP"), "cnn": ("MNIST-1D", "CNN"),
           "text_bow": ("text", "bag of words"), "text_cnn": ("text", "text CNN")}


def point_of(entry, dataset):
    return f"{entry}-dataset{dataset}" + ("-maps16" if entry == "text_cnn" else "")


N_TEST = 1000  # MNIST-1D's test split; the synthetic text rows use as many sentences


def correctness(p, n, rng):
    """A 0/1 array of ``n`` examples with round(p n) ones at random positions."""
    v = np.zeros(n)
    v[rng.choice(n, round(float(np.clip(p, 0, 1)) * n), replace=False)] = 1.0
    return v


def fake_table(cnn=0.9, mlp=0.65, cnn_shuf=0.58, mlp_shuf=0.65, text_cnn=0.99, bow=0.5, noise=0.01, seeds=(0, 1, 2),
               bow_order_blind=True):
    accs = {"logistic": {"mnist1d": 0.33, "mnist1d_shuffled": 0.33},
            "mlp": {"mnist1d": mlp, "mnist1d_shuffled": mlp_shuf},
            "cnn": {"mnist1d": cnn, "mnist1d_shuffled": cnn_shuf},
            "text_bow": {"negation": bow}, "text_cnn": {"negation": text_cnn}}
    points = {point_of(e, ds): {"task": ENTRIES[e][0], "model": ENTRIES[e][1], "dataset": ds}
              for e, by_ds in accs.items() for ds in by_ds}
    rng = np.random.default_rng(3)

    def values(point, labels, seed):
        entry = point.split("-")[0]
        right = correctness(accs[entry][labels["dataset"]] + noise * rng.standard_normal(), N_TEST, rng)
        rows = [{"condition": "test", "metric": "accuracy", "per_example": right},
                {"condition": "final", "metric": "params", "value": 1000.0, "noisy": False}]
        if labels["task"] == "text":
            shuffled = right if entry == "text_bow" and bow_order_blind else correctness(0.5, N_TEST, rng)
            rows.append({"condition": "token_shuffle", "metric": "accuracy", "per_example": shuffled})
        return rows

    return synthetic_table(points, values, seeds=seeds, noise=noise, study="conv1d")


THRESHOLDS = {"cnn_over_mlp_min": 0.10, "shuffle_gap_min": 0.10, "text_cnn_margin_min": 0.25, "bow_band": 0.05}


def decide(table):
    examples = examples_of(table)
    table.attrs = {}  # pandas cannot concatenate frames whose attrs hold arrays (derive concatenates)
    table = analysis.derive(table)
    summary = summarize(table)
    return analysis.verdict(table, summary, THRESHOLDS, examples), table, summary


def test_derive_pairs_the_shuffle_cost_by_seed():
    table = fake_table(noise=0.0)
    table.attrs = {}
    table = analysis.derive(table)
    cost = table[table["condition"] == "shuffle_cost"].set_index(["point", "seed"])["value"]
    assert cost[("cnn-shuffle_cost", 1)] == pytest.approx(0.32)
    assert cost[("mlp-shuffle_cost", 0)] == pytest.approx(0.0)
    assert len(cost) == 9


def test_verdict_holds_on_the_papers_pattern():
    result, _, summary = decide(fake_table())
    assert result["verdict"] == "holds", result["evidence"]
    assert "CNN 0.3" in result["note"]
    assert all(e["ci_high"] > e["ci_low"] for e in result["evidence"])
    key = analysis.key_table(summary)
    assert list(key["model"]) == ["logistic regression", "MLP", "CNN", "bag of words", "text CNN"]
    assert key.loc[key["model"] == "CNN", "paper"].item() == "0.940"
    assert key.loc[key["model"] == "text CNN", "shuffled"].item() == pytest.approx(0.5)


def test_verdict_does_not_hold_when_shuffling_costs_the_cnn_nothing():
    result, _, _ = decide(fake_table(cnn_shuf=0.9))
    assert result["verdict"] == "does not hold"
    assert [e["outcome"] for e in result["evidence"]] == ["pass", "fail", "pass", "pass"]


def test_verdict_does_not_hold_when_bag_of_words_beats_chance():
    result, _, _ = decide(fake_table(bow=0.7))
    assert result["verdict"] == "does not hold" and result["evidence"][3]["outcome"] == "fail"


def test_verdict_inconclusive_when_the_text_cnn_ci_straddles_its_threshold():
    result, _, _ = decide(fake_table(text_cnn=0.75, noise=0.05))
    assert result["evidence"][2]["outcome"] == "inconclusive"
    assert result["verdict"] == "inconclusive"


def test_mr_results_go_into_the_note():
    t = fake_table()
    examples, t.attrs = examples_of(t), {}
    mr = t[t["dataset"] == "negation"].assign(dataset="mr")
    mr["point"] = mr["point"].str.replace("negation", "mr")
    both = pd.concat([t, mr], ignore_index=True)
    both.attrs["examples"] = examples
    result, _, summary = decide(both)
    assert "MR sentence polarity" in result["note"] and "Kim 2014: 0.761" in result["note"]
    assert "MR" in set(analysis.key_table(summary)["task"])


def test_mr_cross_validation_folds_are_the_units_of_its_interval():
    """mr_cv: each seed tests on its own fold (different sentences, 1,066 or 1,067 of them): the note gives
    the mean of the fold accuracies with a t-interval over folds; the invariant compares run by run."""
    from convstudies.intervals import seed_interval

    t = fake_table()
    examples, t.attrs = examples_of(t), {}
    rng = np.random.default_rng(0)
    rows = []
    for entry, acc in (("text_bow", 0.72), ("text_cnn", 0.76)):
        for fold in range(10):
            right = correctness(acc + 0.01 * rng.standard_normal(), 1066 + (fold < 2), rng)
            key = f"{entry}-mr_cv-{fold}"
            examples[key] = right
            shuffled_key = key + "-shuffled"
            examples[shuffled_key] = right if entry == "text_bow" else correctness(0.6, len(right), rng)
            base = {"study": "conv1d", "point": f"{entry}-datasetmr_cv", "task": "text", "model": ENTRIES[entry][1],
                    "dataset": "mr_cv", "run": f"r{entry}{fold}", "seed": 1000 + fold, "status": "ok"}
            rows += [{**base, "condition": "test", "metric": "accuracy", "value": right.mean(), "examples": key},
                     {**base, "condition": "token_shuffle", "metric": "accuracy",
                      "value": examples[shuffled_key].mean(), "examples": shuffled_key}]
    both = pd.concat([t, pd.DataFrame(rows)], ignore_index=True)
    both.attrs["examples"] = examples
    result, table, summary = decide(both)
    folds = table[(table["dataset"] == "mr_cv") & (table["condition"] == "test")
                  & table["point"].str.startswith("text_cnn")].sort_values("seed")["value"].to_numpy()
    m, lo, hi = seed_interval(folds)
    assert "10-fold cross-validation, mean over n = 10 folds" in result["note"]
    assert f"text CNN {m:.3f} [{lo:.3f}, {hi:.3f}] (Kim 2014: 0.761)" in result["note"]
    assert result["invariants"][0]["outcome"] == "pass"
    key = analysis.key_table(summary)
    assert key.loc[key["task"] == "MR (10-fold CV)", "paper"].tolist() == ["", "0.761"]


# ----------------------------------------------------------------------------- resolved configurations

def _points(scale):
    from convstudies.config import expand_points, load_study

    return expand_points(load_study("conv1d"), scale)


@pytest.mark.parametrize("scale", ["embedded", "full"])
def test_mnist1d_models_follow_the_papers_protocol(scale):
    """Greydanus (2020)'s benchmark: Adam at a constant 0.01, batches of 100, 6,000 steps (150 epochs of
    4,000), the paper's models (no batch norm), at the embedded and the full scale alike."""
    pts = {p: v["config"] for p, v in _points(scale).items() if v["labels"]["task"] == "MNIST-1D"}
    assert sorted(pts) == sorted(f"{m}-dataset{d}" for m in ("logistic", "mlp", "cnn")
                                 for d in ("mnist1d", "mnist1d_shuffled"))
    for cfg in pts.values():
        t = cfg["train"]
        assert (t["optimizer"], t["lr"], t["schedule"], t["batch_size"], t["weight_decay"]) == ("adam", 0.01, "constant", 100, 0.0)
        assert max(t["epochs"], math.ceil(t["min_steps"] / (4000 // t["batch_size"]))) * (4000 // t["batch_size"]) == 6000
        assert cfg["data"].get("n_train") is None and cfg["data"]["train_fraction"] == 1.0
    assert pts["mlp-datasetmnist1d"]["model"] == {"name": "mnist1d_mlp", "width": 100}
    assert pts["logistic-datasetmnist1d"]["model"] == {"name": "logistic"}
    blocks = pts["cnn-datasetmnist1d"]["model"]["blocks"]
    assert [(b["filters"], b["kernel"], b["stride"], b["padding"]) for b in blocks] == [(25, 5, 2, 1), (25, 3, 2, 1), (25, 3, 2, 1)]
    assert not any(b.get("norm") for b in blocks) and pts["cnn-datasetmnist1d"]["model"]["head"] == "flatten"


def test_the_papers_models_have_the_papers_sizes():
    assert n_params(create_model("mnist1d_mlp", in_shape=(1, 40))) == 15210  # MLPBase in greydanus/mnist1d
    assert n_params(create_model("logistic", in_shape=(1, 40))) == 410
    cfg = _points("embedded")["cnn-datasetmnist1d"]["config"]["model"]
    cnn = create_model(cfg["name"], in_shape=(1, 40), **{k: v for k, v in cfg.items() if k != "name"})
    assert n_params(cnn) == 5210  # ConvBase: 25 channels, 125 flattened features
    x = torch.randn(3, 1, 40)
    m = create_model("mnist1d_mlp", in_shape=(1, 40))
    h = m.linear1(x.flatten(1)).relu()
    assert torch.allclose(m(x), m.linear3(h + m.linear2(h).relu()))  # the second hidden layer is residual


def test_full_scale_text_follows_kim_2014_with_10_fold_cross_validation():
    from convstudies.config import load_study, seeds_for

    pts = {p: v["config"] for p, v in _points("full").items() if v["entry"] in ("text_bow", "text_cnn")}
    mr = {v["model"]["name"]: v for v in pts.values() if v["data"]["dataset"] == "mr_cv"}
    assert set(mr) == {"text_bow", "text_cnn"}
    for cfg in pts.values():  # Kim's recipe on both corpora
        t = cfg["train"]
        assert (t["optimizer"], t["lr"], t["batch_size"], t["epochs"], t["min_steps"], t["schedule"], t["max_norm"]) == (
            "adadelta", 1.0, 50, 25, 0, "constant", 3.0)
        assert cfg["model"]["embed_dim"] == 300 and cfg["data"]["cv_folds"] == 10
    assert {k: mr["text_cnn"]["model"][k] for k in ("widths", "maps", "dropout")} == {"widths": [3, 4, 5], "maps": 100,
                                                                                       "dropout": 0.5}
    seeds = seeds_for(load_study("conv1d"), "full")
    assert sorted(s % 10 for s in seeds) == list(range(10))  # one confirmation seed per fold
    anchor = next(a for a in load_study("conv1d")["anchors"] if "MR" in a["name"])
    assert anchor["point"]["full"] in pts and pts[anchor["point"]["full"]]["data"]["dataset"] == "mr_cv"
    assert anchor["requires"]["data.cv_folds"] == 10 and anchor["requires"]["train.optimizer"] == "adadelta"


def test_anchors_name_points_that_exist_and_what_the_protocol_requires():
    from convstudies.config import load_study

    study = load_study("conv1d")
    for a in study["anchors"]:
        for scale, point in (a["point"].items() if isinstance(a["point"], dict) else [("embedded", a["point"])]):
            cfg = _points(scale)[point]["config"]
            for key, value in a["requires"].items():
                if key not in ("scale", "phase"):
                    node = cfg
                    for part in key.split("."):
                        node = node[part]
                    assert node == value, (a["name"], scale, key)


# ----------------------------------------------------------------------------- data and engine additions

def test_cv_folds_are_stratified_fixed_and_the_seed_picks_the_fold():
    from convstudies.datasets.base import TensorDataset, cv_folds
    from convstudies.engine.train import prepare_run_data

    y = torch.tensor([0] * 530 + [1] * 540)
    folds = cv_folds(y.numpy(), 10)
    assert np.array_equal(folds, cv_folds(y.numpy(), 10))  # deterministic
    assert set(np.bincount(folds)) <= {106, 107, 108}
    assert all(abs(y.numpy()[folds == f].mean() - y.float().mean().item()) < 0.01 for f in range(10))
    x = torch.arange(len(y)).float()[:, None]
    pool = TensorDataset("pool", x, y, x[:0], y[:0], x[:0], y[:0], 2)
    tested = []
    for seed in range(1000, 1010):
        run = prepare_run_data(pool, {"cv_folds": 10}, seed)
        ids = [set(getattr(run, f"x_{s}")[:, 0].long().tolist()) for s in ("train", "val", "test")]
        assert not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])
        assert len(ids[0] | ids[1] | ids[2]) == len(y) and len(ids[1]) == round(0.1 * (len(y) - len(ids[2])))
        assert ids[2] == set(np.flatnonzero(folds == seed % 10).tolist())
        tested += ids[2]
    assert sorted(tested) == list(range(len(y)))  # every example tested once over the 10 folds
    with pytest.raises(ValueError, match="set data.cv_folds"):
        prepare_run_data(pool, {}, 0)
    own = TensorDataset("own", x[:900], y[:900], x[900:1000], y[900:1000], x[1000:], y[1000:], 2)
    assert torch.equal(prepare_run_data(own, {"cv_folds": 10}, 3).x_test, x[1000:])  # its own split stays


def test_adadelta_and_max_norm_as_kim():
    from convstudies.engine.module import Classifier

    model = create_model("text_cnn", in_shape=(8,), vocab_size=20, embed_dim=4, maps=3)
    cfg = {"optimizer": "adadelta", "lr": 1.0, "weight_decay": 0.0, "momentum": 0.9, "epochs": 1,
           "schedule": "constant", "max_norm": 3.0}
    module = Classifier(model, cfg, num_classes=2, steps_per_epoch=1)
    opt = module.configure_optimizers()
    assert isinstance(opt, torch.optim.Adadelta) and opt.defaults["rho"] == 0.95 and opt.defaults["eps"] == 1e-6
    with torch.no_grad():
        model.fc.weight.copy_(torch.tensor([[10.0] * 9, [0.1] * 9]))
    conv_before = model.convs[0].weight.clone()
    module.apply_max_norm()
    norms = model.fc.weight.norm(dim=1)
    assert norms[0].item() == pytest.approx(3.0, rel=1e-5) and norms[1].item() == pytest.approx(0.3, rel=1e-5)
    assert torch.equal(model.convs[0].weight, conv_before)  # only the output layer is constrained
    Classifier(model, {**cfg, "max_norm": None}, 2, 1).apply_max_norm()  # off: nothing happens
    assert model.fc.weight.norm(dim=1)[0].item() == pytest.approx(3.0, rel=1e-5)


def test_mnist1d_uses_the_generators_split_and_a_validation_set_of_another_seed():
    from convstudies.datasets import embedded

    ordered, shuffled = embedded.mnist1d(), embedded.mnist1d_shuffled()
    assert (len(ordered.y_train), len(ordered.y_val), len(ordered.y_test)) == (4000, 5000, 1000)
    d = embedded.mnist1d_generate(42)
    assert np.allclose(ordered.x_train[:, 0].numpy(), d["x"]) and np.allclose(ordered.x_test[:, 0].numpy(), d["x_test"])
    v = embedded.mnist1d_generate(43)
    assert np.allclose(ordered.x_val[:5, 0].numpy(), v["x"][:5])
    assert not np.isin(ordered.x_val[:, 0, 0].numpy(), d["x"][:, 0]).any()  # other sequences
    perm = embedded.MNIST1D_PERM  # the generator's own permutation, for every split
    for split in ("train", "val", "test"):
        assert torch.equal(getattr(shuffled, f"x_{split}"), getattr(ordered, f"x_{split}")[..., perm])
        assert torch.equal(getattr(shuffled, f"y_{split}"), getattr(ordered, f"y_{split}"))


def test_intervals_count_seeds_and_test_examples():
    """Noise-free seeds: a t-interval over seed means would have zero width; the two-way intervals do
    not, and they are the estimator's on the per-example matrices (the shuffle gap from per-example
    ordered-minus-shuffled differences)."""
    from convstudies.intervals import paired_difference, two_way_interval

    table = fake_table(noise=0.0)
    ex = examples_of(table)
    result, _, _ = decide(table)

    def mat(entry, dataset, condition="test"):
        rows = table[(table["point"].str.split("-").str[0] == entry) & (table["dataset"] == dataset)
                     & (table["condition"] == condition)]
        return np.stack([ex[k] for k in rows.sort_values("seed")["examples"]])

    cnn_mlp, gap, _, bow = result["evidence"]
    assert mat("cnn", "mnist1d").shape == (3, N_TEST)
    assert (cnn_mlp["estimate"], cnn_mlp["ci_low"], cnn_mlp["ci_high"]) == pytest.approx(
        paired_difference(mat("cnn", "mnist1d"), mat("mlp", "mnist1d")))
    expected = paired_difference(mat("cnn", "mnist1d") - mat("cnn", "mnist1d_shuffled"),
                                 mat("mlp", "mnist1d") - mat("mlp", "mnist1d_shuffled"), bounds=(-1, 1))
    assert (gap["estimate"], gap["ci_low"], gap["ci_high"]) == pytest.approx(expected)
    assert gap["estimate"] == pytest.approx(0.32)
    m, lo, hi = two_way_interval(mat("text_bow", "negation"))
    assert (bow["estimate"], bow["ci_low"], bow["ci_high"]) == pytest.approx((m - 0.5, lo - 0.5, hi - 0.5))
    assert all(e["ci_high"] - e["ci_low"] > 0.005 for e in result["evidence"])


def test_bag_of_words_order_blindness_is_an_invariant_not_evidence():
    result, _, _ = decide(fake_table())
    assert len(result["evidence"]) == 4 and len(result["invariants"]) == 1
    inv = result["invariants"][0]
    assert inv["outcome"] == "pass" and inv["estimate"] == inv["ci_low"] == inv["ci_high"] == 0
    broken, _, _ = decide(fake_table(bow_order_blind=False))
    assert broken["invariants"][0]["outcome"] == "fail" and broken["verdict"] == "inconclusive"


def test_note_states_the_computed_shuffle_costs():
    from convstudies.intervals import two_way_interval

    table = fake_table(noise=0.0)
    ex = examples_of(table)
    result, _, _ = decide(table)
    def rows(ds):
        return table[(table["point"].str.startswith("cnn-")) & (table["dataset"] == ds)
                     & (table["condition"] == "test")].sort_values("seed")["examples"]

    cost = np.stack([ex[k] for k in rows("mnist1d")]) - np.stack([ex[k] for k in rows("mnist1d_shuffled")])
    m, lo, hi = two_way_interval(cost, bounds=(-1, 1))
    assert f"CNN {m:.3f} [{lo:.3f}, {hi:.3f}]" in result["note"]
    assert "logistic regression 0.000 [" in result["note"]


def test_figures_draw_from_synthetic_tables(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    m, vocab = _not_good_detector()
    x = torch.tensor(text.encode([["the", "film", "not", "good"], ["good", "not"]], vocab, 6), dtype=torch.float32)
    labels = {"task": "text", "model": "text CNN", "dataset": "negation"}
    grams = synthetic_table({point_of("text_cnn", "negation"): labels}, seeds=(0,), study="conv1d",
                            values=lambda *_: evaluations.top_ngrams_of(m, x, vocab, filters=2, top=2))
    fake = fake_table()
    examples, fake.attrs = examples_of(fake), {}
    both = pd.concat([fake, grams], ignore_index=True)
    both.attrs["examples"] = examples
    _, table, summary = decide(both)
    for name in ("mnist1d_accuracy", "text_accuracy", "text_filters"):
        fig = getattr(figures, name)(table, summary)
        fig.savefig(tmp_path / f"{name}.png")
        assert (tmp_path / f"{name}.png").stat().st_size > 1000


def test_text_filters_without_top_ngrams_says_so():
    import matplotlib

    matplotlib.use("Agg")
    _, table, summary = decide(fake_table())
    fig = figures.text_filters(table, summary)
    assert "no top_ngrams evaluation" in fig.axes[0].texts[0].get_text()
