"""Text corpora (convstudies.datasets.text): tokenising, vocabularies, the negation corpus, the MR reader."""
import hashlib
from pathlib import Path

import pytest
import torch

from convstudies.datasets import text

SHARED_MR = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "rt-polarity"


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
    from convstudies.datasets import build_dataset

    return build_dataset("negation")


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


def test_mr_data_root_is_searched_first_and_is_the_download_target(tmp_path, monkeypatch):
    monkeypatch.delenv("CONVSTUDIES_MR_DIR", raising=False)
    d = _write_mr(tmp_path / "root" / "rt-polarity", [b"good"], [b"bad"])
    assert text.mr_dir(root=tmp_path / "root") == d
    assert text.read_mr(root=tmp_path / "root", download=False)[1].tolist() == [1, 0]
    assert text.mr_candidates(tmp_path / "elsewhere")[0] == tmp_path / "elsewhere" / "rt-polarity"
