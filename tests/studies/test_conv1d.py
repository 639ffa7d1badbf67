"""conv1d study: text models, evaluations, derive, verdict, key table and figures (corpora: tests/datasets)."""

import pandas as pd
import pytest
import torch
from helpers.tables import synthetic_table

from convstudies.datasets import text
from convstudies.models import create_model
from convstudies.stats import summarize
from convstudies.studies.conv1d import analysis, evaluations, figures


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
    rows = get_evaluation("top_ngrams")(cnn, negation_data, {}, filters=2, top=3)
    grams = [r["ngram"] for r in rows]
    assert len(grams) == 6 and all(len(g.split()) == 2 for g in grams)
    assert all(w == "_" or w in text.NEGATION_VOCAB for g in grams for w in g.split())
    bow = create_model("text_bow", in_shape=negation_data.in_shape, vocab_size=64, embed_dim=8)
    assert get_evaluation("top_ngrams")(bow, negation_data, {}) == []  # no filters to show
    from convstudies.evaluations.common import accuracy_of

    shuffled = get_evaluation("token_shuffle")(bow, negation_data, {})[0]["value"]
    assert shuffled == pytest.approx(accuracy_of(bow, negation_data.x_test, negation_data.y_test), abs=1e-6)


# ----------------------------------------------------------------------------- verdict on synthetic tables

ENTRIES = {"logistic": ("MNIST-1D", "logistic regression"), "mlp": ("MNIST-1D", "MLP"), "cnn": ("MNIST-1D", "CNN"),
           "text_bow": ("text", "bag of words"), "text_cnn": ("text", "text CNN")}


def point_of(entry, dataset):
    return f"{entry}-dataset{dataset}" + ("-maps16" if entry == "text_cnn" else "")


def fake_table(cnn=0.9, mlp=0.65, cnn_shuf=0.58, mlp_shuf=0.65, text_cnn=0.99, bow=0.5, noise=0.01, seeds=(0, 1, 2)):
    accs = {"logistic": {"mnist1d": 0.33, "mnist1d_shuffled": 0.33},
            "mlp": {"mnist1d": mlp, "mnist1d_shuffled": mlp_shuf},
            "cnn": {"mnist1d": cnn, "mnist1d_shuffled": cnn_shuf},
            "text_bow": {"negation": bow}, "text_cnn": {"negation": text_cnn}}
    points = {point_of(e, ds): {"task": ENTRIES[e][0], "model": ENTRIES[e][1], "dataset": ds}
              for e, by_ds in accs.items() for ds in by_ds}

    def values(point, labels, seed):
        rows = [{"condition": "test", "metric": "accuracy", "value": accs[point.split("-")[0]][labels["dataset"]]},
                {"condition": "final", "metric": "params", "value": 1000.0, "noisy": False}]
        if labels["task"] == "text":
            rows.append({"condition": "token_shuffle", "metric": "accuracy", "value": 0.5, "noisy": False})
        return rows

    return synthetic_table(points, values, seeds=seeds, noise=noise, study="conv1d")


THRESHOLDS = {"cnn_over_mlp_min": 0.10, "shuffle_gap_min": 0.10, "text_cnn_margin_min": 0.25, "bow_band": 0.05}


def decide(table):
    table = analysis.derive(table)
    summary = summarize(table)
    return analysis.verdict(table, summary, THRESHOLDS), table, summary


def test_derive_pairs_the_shuffle_cost_by_seed():
    table = analysis.derive(fake_table(noise=0.0))
    cost = table[table["condition"] == "shuffle_cost"].set_index(["point", "seed"])["value"]
    assert cost[("cnn-shuffle_cost", 1)] == pytest.approx(0.32)
    assert cost[("mlp-shuffle_cost", 0)] == pytest.approx(0.0)
    assert len(cost) == 9


def test_verdict_holds_on_the_papers_pattern():
    result, _, summary = decide(fake_table())
    assert result["verdict"] == "holds", result["evidence"]
    assert "CNN 0.3" in result["note"]
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
    mr = t[t["dataset"] == "negation"].assign(dataset="mr")
    mr["point"] = mr["point"].str.replace("negation", "mr")
    result, _, summary = decide(pd.concat([t, mr], ignore_index=True))
    assert "MR sentence polarity" in result["note"] and "Kim 2014: 0.761" in result["note"]
    assert "MR" in set(analysis.key_table(summary)["task"])


def test_figures_draw_from_synthetic_tables(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    m, vocab = _not_good_detector()
    x = torch.tensor(text.encode([["the", "film", "not", "good"], ["good", "not"]], vocab, 6), dtype=torch.float32)
    labels = {"task": "text", "model": "text CNN", "dataset": "negation"}
    grams = synthetic_table({point_of("text_cnn", "negation"): labels}, seeds=(0,), study="conv1d",
                            values=lambda *_: evaluations.top_ngrams_of(m, x, vocab, filters=2, top=2))
    _, table, summary = decide(pd.concat([fake_table(), grams], ignore_index=True))
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
