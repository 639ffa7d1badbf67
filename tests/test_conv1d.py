"""conv1d study: text corpora and tokenising, text models, evaluations, verdict logic, figures."""
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from convstudies import text
from convstudies.models import create_model
from convstudies.stats import summarize
from convstudies.studies import conv1d

SHARED_MR = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "rt-polarity"


# ----------------------------------------------------------------------------- text

def test_tokenize_splits_clitics_and_punctuation_like_kim():
    assert text.tokenize("It's NOT good, isn't it?") == ["it", "'s", "not", "good", ",", "is", "n't", "it", "?"]
    assert text.tokenize("  a   b\t") == ["a", "b"]


def test_vocabulary_is_ordered_by_frequency_and_capped():
    sents = [["b", "a", "b"], ["c", "b", "a"]]
    assert text.build_vocab(sents) == ["<pad>", "<unk>", "b", "a", "c"]
    assert text.build_vocab(sents, max_size=4) == ["<pad>", "<unk>", "b", "a"]
    vocab = text.build_vocab(sents, max_size=4)
    ids = text.encode([["a", "c", "b"], ["b"] * 5], vocab, max_len=3)
    assert ids.tolist() == [[3, 1, 2], [2, 2, 2]]  # unknown "c" -> 1, truncated to 3
    assert text.encode([["a"]], vocab, 3).tolist() == [[3, 0, 0]]  # padded with 0
    assert text.decode([3, 1, 0, 0], vocab) == ["a", "<unk>"]


def test_negation_sentences_follow_the_rule_and_balance_the_classes():
    sents, labels = text.negation_corpus(2000, seed=3)
    assert labels.mean() == 0.5
    assert all(text.negation_label(s) == y for s, y in zip(sents, labels))
    assert all(text.NEGATION_MAX_LEN >= len(s) >= 8 for s in sents)
    for s in sents:  # exactly one sentiment word and one negator
        assert sum(w in text.POSITIVE or w in text.NEGATIVE for w in s) == 1
        assert sum(w in text.NEGATORS for w in s) == 1
    assert text.negation_label(["the", "film", "not", "good"]) == 0
    assert text.negation_label(["the", "film", "good", "not"]) == 1
    assert text.negation_label(["not", "the", "good", "film"]) == 1
    assert text.negation_label(["never", "bad", "at", "all"]) == 1


def test_the_bag_of_words_carries_no_information_about_the_label():
    """A linear model on word counts is at chance on fresh sentences; on bigram counts it is not."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    tr, ytr = text.negation_corpus(2000, seed=1)
    te, yte = text.negation_corpus(1000, seed=2)
    join = lambda ss: [" ".join(s) for s in ss]  # noqa: E731
    for ngrams, lo, hi in [((1, 1), 0.44, 0.56), ((1, 2), 0.9, 1.0)]:
        vec = CountVectorizer(ngram_range=ngrams, token_pattern=r"\S+")
        clf = LogisticRegression(max_iter=2000).fit(vec.fit_transform(join(tr)), ytr)
        acc = clf.score(vec.transform(join(te)), yte)
        assert lo <= acc <= hi, (ngrams, acc)


@pytest.fixture(scope="module")
def negation_data():
    from convstudies.data import DATASETS

    return DATASETS["negation"]()


def test_negation_dataset_is_token_ids_as_float32(negation_data):
    ds = negation_data
    assert ds.in_shape == (text.NEGATION_MAX_LEN,) and ds.x_train.dtype == torch.float32
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (3500, 500, 2000)
    assert ds.x_train.max() < len(text.NEGATION_VOCAB) and ds.x_train.min() == 0
    assert torch.equal(ds.x_train, ds.x_train.round())
    assert ds.y_test.float().mean() == 0.5


def _write_mr(d: Path, pos: list[bytes], neg: list[bytes]) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / "rt-polarity.pos").write_bytes(b"\n".join(pos) + b"\n")
    (d / "rt-polarity.neg").write_bytes(b"\n".join(neg) + b"\n")
    return d


def test_read_mr_from_a_local_directory_latin1(tmp_path):
    # 0xe9 is e-acute in latin-1 (invalid UTF-8); 0x85 must not split a line (str.splitlines would)
    d = _write_mr(tmp_path / "mr", [b"a caf\xe9 film , good", b"it's great\x85really"], [b"dull and long", b""])
    sents, labels = text.read_mr(d, download=False)
    assert labels.tolist() == [1, 1, 0]
    assert sents[1] == ["it", "'s", "great", "really"]
    assert sents[0] == ["a", "caf", "film", ",", "good"]  # non-ascii letters are cleaned away, as in Kim's code


def test_mr_directory_resolution_and_missing_files_message(tmp_path, monkeypatch):
    d = _write_mr(tmp_path / "env", [b"good"], [b"bad"])
    monkeypatch.setenv("CONVSTUDIES_MR_DIR", str(d))
    assert text.mr_dir() == d
    assert text.mr_dir(tmp_path / "other") == tmp_path / "other"
    empty = tmp_path / "nothing"
    with pytest.raises(FileNotFoundError, match=r"(?s)rt-polarity.pos, rt-polarity.neg missing in .*nothing.*CONVSTUDIES_MR_DIR"):
        text.read_mr(empty, download=False)
    monkeypatch.setenv("CONVSTUDIES_MR_DIR", str(empty))
    with pytest.raises(FileNotFoundError, match="searched: .*nothing"):
        text.read_mr(download=False)


def test_mr_corpus_split_and_vocabulary_from_the_training_part(tmp_path):
    pos = [f"good film number {i}".encode() for i in range(50)]
    neg = [f"bad film number {i + 100} , sadly".encode() for i in range(50)]
    c = text.mr_corpus(_write_mr(tmp_path, pos, neg), n_val=10, n_test=10, max_len=6, download=False)
    x_tr, y_tr, x_va, y_va, x_te, y_te = c["splits"]
    assert (len(x_tr), len(x_va), len(x_te)) == (80, 10, 10)
    assert y_te.mean() == 0.5 and x_tr.shape[1] == 6
    assert c["vocab"][:2] == ["<pad>", "<unk>"] and "film" in c["vocab"]
    train_numbers = {w for row in x_tr for w in text.decode(row, c["vocab"]) if w.isdigit()}
    assert len(train_numbers) == 80 and train_numbers == {w for w in c["vocab"] if w.isdigit()}
    assert (x_te == 1).any()  # test sentences have unknown words


@pytest.mark.skipif(not SHARED_MR.is_dir(), reason=f"the shared MR corpus is not at {SHARED_MR}")
def test_the_real_mr_corpus():
    md5 = {f: hashlib.md5((SHARED_MR / f).read_bytes()).hexdigest() for f in text.MR_FILES}
    assert md5 == {"rt-polarity.pos": "afcc7ff580b3b4df4bdb6528e6558ab5",
                   "rt-polarity.neg": "1e35b7f7c5df24a135ca62b8eecded53"}
    c = text.mr_corpus(SHARED_MR, download=False)
    x_tr, y_tr, x_va, y_va, x_te, y_te = c["splits"]
    assert (len(x_tr), len(x_va), len(x_te)) == (8636, 960, 1066)  # 10,662 sentences
    assert y_tr.sum() == 4318 and y_te.sum() == 533
    assert x_tr.shape[1] == text.MR_MAX_LEN and (x_tr > 0).sum(1).max() <= text.MR_MAX_LEN
    assert 15000 < len(c["vocab"]) < text.MR_MAX_VOCAB


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
    s = conv1d.shuffle_tokens(x, seed=0)
    assert torch.equal((s == 0), (x == 0))
    assert all(sorted(a.tolist()) == sorted(b.tolist()) for a, b in zip(s, x))
    assert not torch.equal(s, x)
    assert torch.equal(conv1d.shuffle_tokens(x, seed=0), s)


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
    rows = conv1d.top_ngrams_of(m, x, vocab, filters=2, top=3)
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
    from convstudies.engine.evaluations import get_evaluation

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
    from convstudies.engine.evaluations import accuracy_of

    shuffled = get_evaluation("token_shuffle")(bow, negation_data, {})[0]["value"]
    assert shuffled == pytest.approx(accuracy_of(bow, negation_data.x_test, negation_data.y_test), abs=1e-6)


# ----------------------------------------------------------------------------- verdict

def fake_table(cnn=0.9, mlp=0.65, cnn_shuf=0.58, mlp_shuf=0.65, text_cnn=0.99, bow=0.5, noise=0.01, seeds=(0, 1, 2)):
    rng = np.random.default_rng(0)
    rows = []
    spec = [("logistic", "MNIST-1D", "logistic regression", {"mnist1d": 0.33, "mnist1d_shuffled": 0.33}),
            ("mlp", "MNIST-1D", "MLP", {"mnist1d": mlp, "mnist1d_shuffled": mlp_shuf}),
            ("cnn", "MNIST-1D", "CNN", {"mnist1d": cnn, "mnist1d_shuffled": cnn_shuf}),
            ("text_bow", "text", "bag of words", {"negation": bow}),
            ("text_cnn", "text", "text CNN", {"negation": text_cnn})]
    for entry, task, model, accs in spec:
        for ds, acc in accs.items():
            point = f"{entry}-dataset{ds}" + ("-maps16" if entry == "text_cnn" else "")
            for s in seeds:
                base = {"study": "conv1d", "point": point, "task": task, "model": model, "dataset": ds,
                        "run": f"seed{s}-x", "seed": s, "status": "ok"}
                rows.append({**base, "condition": "test", "metric": "accuracy", "value": acc + noise * rng.standard_normal()})
                rows.append({**base, "condition": "final", "metric": "params", "value": 1000.0})
                if task == "text":
                    rows.append({**base, "condition": "token_shuffle", "metric": "accuracy", "value": 0.5})
    return pd.DataFrame(rows)


THRESHOLDS = {"cnn_over_mlp_min": 0.10, "shuffle_gap_min": 0.10, "text_cnn_margin_min": 0.25, "bow_band": 0.05}


def decide(table):
    table = conv1d.derive(table)
    summary = summarize(table)
    return conv1d.verdict(table, summary, THRESHOLDS), table, summary


def test_derive_pairs_the_shuffle_cost_by_seed():
    table = conv1d.derive(fake_table(noise=0.0))
    cost = table[table["condition"] == "shuffle_cost"].set_index(["point", "seed"])["value"]
    assert cost[("cnn-shuffle_cost", 1)] == pytest.approx(0.32)
    assert cost[("mlp-shuffle_cost", 0)] == pytest.approx(0.0)
    assert len(cost) == 9


def test_verdict_holds_on_the_papers_pattern():
    result, _, summary = decide(fake_table())
    assert result["verdict"] == "holds", result["evidence"]
    assert "CNN 0.3" in result["note"]
    key = conv1d.key_table(summary)
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
    assert "MR" in set(conv1d.key_table(summary)["task"])


def test_figures_draw_from_hand_made_tables(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    m, vocab = _not_good_detector()
    x = torch.tensor(text.encode([["the", "film", "not", "good"], ["good", "not"]], vocab, 6), dtype=torch.float32)
    grams = pd.DataFrame([{"study": "conv1d", "point": "text_cnn-datasetnegation-maps16", "task": "text",
                           "model": "text CNN", "dataset": "negation", "run": "seed0-x", "seed": 0, "status": "ok",
                           **r} for r in conv1d.top_ngrams_of(m, x, vocab, filters=2, top=2)])
    _, table, summary = decide(pd.concat([fake_table(), grams], ignore_index=True))
    for name in ("mnist1d_accuracy", "text_accuracy", "text_filters"):
        fig = getattr(conv1d, name)(table, summary)
        fig.savefig(tmp_path / f"{name}.png")
        assert (tmp_path / f"{name}.png").stat().st_size > 1000


def test_mr_data_root_is_searched_first_and_is_the_download_target(tmp_path, monkeypatch):
    monkeypatch.delenv("CONVSTUDIES_MR_DIR", raising=False)
    d = _write_mr(tmp_path / "root" / "rt-polarity", [b"good"], [b"bad"])
    assert text.mr_dir(root=tmp_path / "root") == d
    assert text.read_mr(root=tmp_path / "root", download=False)[1].tolist() == [1, 0]
    assert text.mr_candidates(tmp_path / "elsewhere")[0] == tmp_path / "elsewhere" / "rt-polarity"
