"""Text for the conv1d study: tokenising, vocabularies, a generated negation corpus, the MR corpus.

Sentences become rows of token ids, padded with id 0 (``<pad>``) to a fixed length; id 1 is
``<unk>``. The engine keeps inputs as float32 tensors, which hold integer ids exactly below
2**24, and the text models turn them back into ids with ``.long()``.

* :func:`negation_corpus` -- a seeded generator of sentences in which the label depends on
  word order only: every sentence holds one sentiment word and one negator; the label is the
  word's polarity, flipped when the negator stands *immediately before* it. Whether it does
  is independent of the multiset of words, so no bag-of-words model can beat chance, while a
  convolution kernel of width 2 sees the pair.
* :func:`read_mr` / :func:`mr_corpus` -- Pang & Lee's sentence polarity corpus v1.0 ("MR" of
  Kim 2014): ``rt-polarity.pos`` and ``rt-polarity.neg``, one tokenised, lower-cased snippet a
  line, latin-1 encoded. Read from a directory (argument, ``$CONVSTUDIES_MR_DIR``,
  ``<data root>/rt-polarity`` with the data root ``<repo>/data`` by default, or
  ``../shared/datasets/rt-polarity`` beside the repository), or fetched from the authors'
  page into ``<data root>/rt-polarity`` when online (:func:`fetch_mr`).

Both are registered as datasets (``negation``, ``mr``; ``mr_cv``: MR pooled for Kim's 10-fold cross-validation). ``python -m convstudies.datasets.text mr [DIR]``
prints what the loader finds; ``... negation`` prints example sentences of the generated corpus.
"""
from __future__ import annotations

import argparse
import os
import re
from collections import Counter
from pathlib import Path

import numpy as np

from . import register_dataset
from .base import TensorDataset, from_arrays, stratified_split
from .sources import MR_FILES, MR_URL, mr_candidates  # torch-free: the workflow's offline check uses them too

PAD, UNK = "<pad>", "<unk>"
ROOT = Path(__file__).resolve().parents[2]  # the repository

# ---------------------------------------------------------------- tokenising and vocabularies

_CLEAN = re.compile(r"[^a-z0-9(),!?'`\-]")
_SPLITS = [(re.compile(p), r) for p, r in [
    (r"'s\b", " 's"), (r"'ve\b", " 've"), (r"n't\b", " n't"), (r"'re\b", " 're"), (r"'d\b", " 'd"),
    (r"'ll\b", " 'll"), (r",", " , "), (r"!", " ! "), (r"\(", " ( "), (r"\)", " ) "), (r"\?", " ? ")]]


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens in the manner of Kim (2014)'s ``clean_str``.

    Characters other than letters, digits and ``(),!?'`-`` become spaces; clitics (``'s``,
    ``n't``, ...) and punctuation are split off.
    """
    s = _CLEAN.sub(" ", text.lower())
    for pattern, repl in _SPLITS:
        s = pattern.sub(repl, s)
    return s.split()


def build_vocab(sentences: list[list[str]], max_size: int | None = None, min_freq: int = 1) -> list[str]:
    """id -> word: ``<pad>``, ``<unk>``, then words by descending frequency (ties alphabetically).

    ``max_size`` counts the two special tokens; rarer words map to ``<unk>``.
    """
    counts = Counter(w for s in sentences for w in s)
    words = sorted((w for w, c in counts.items() if c >= min_freq), key=lambda w: (-counts[w], w))
    if max_size is not None:
        words = words[: max(0, max_size - 2)]
    return [PAD, UNK, *words]


def encode(sentences: list[list[str]], vocab: list[str], max_len: int) -> np.ndarray:
    """(N, max_len) int64 token ids, truncated or padded with 0 at the end; unknown words -> 1."""
    index = {w: i for i, w in enumerate(vocab)}
    out = np.zeros((len(sentences), max_len), dtype=np.int64)
    for i, s in enumerate(sentences):
        ids = [index.get(w, 1) for w in s[:max_len]]
        out[i, : len(ids)] = ids
    return out


def decode(ids, vocab: list[str]) -> list[str]:
    """Words of one id sequence, padding dropped."""
    return [vocab[int(i)] if 0 <= int(i) < len(vocab) else UNK for i in ids if int(i) != 0]


# ---------------------------------------------------------------- the generated negation corpus

POSITIVE = ["good", "great", "fine", "nice", "excellent", "fun", "clever", "moving", "funny", "superb"]
NEGATIVE = ["bad", "awful", "dull", "boring", "poor", "weak", "silly", "tedious", "bland", "messy"]
NEGATORS = ["not", "never", "hardly"]
FILLERS = ["the", "a", "this", "movie", "film", "plot", "story", "acting", "script", "cast", "ending",
           "music", "director", "scenes", "is", "was", "seems", "felt", "and", "but", "really", "quite",
           "rather", "so", "just", "overall", "at", "times", "in", "parts"]
NEGATION_VOCAB = [PAD, UNK, *POSITIVE, *NEGATIVE, *NEGATORS, *FILLERS]
NEGATION_MAX_LEN = 16


def negation_sentence(rng: np.random.Generator, label: int | None = None, min_len: int = 8,
                      max_len: int = NEGATION_MAX_LEN):
    """One sentence (list of words) and its label (1 positive, 0 negative), plus whether it is negated.

    The sentence has ``min_len..max_len`` words: one sentiment word, one negator and fillers,
    all drawn independently of the label. Negated (probability 1/2): the negator stands
    immediately before the sentiment word, which flips the polarity. Otherwise it stands
    anywhere else -- often right after the word ("good not"), so only the order tells.
    ``label`` fixes the label (the word's polarity is then label XOR negated, still a fair coin).
    """
    n = int(rng.integers(min_len, max_len + 1))
    negated = bool(rng.integers(2))
    positive = bool(rng.integers(2)) if label is None else (bool(label) != negated)
    word = str(rng.choice(POSITIVE if positive else NEGATIVE))
    negator = str(rng.choice(NEGATORS))
    words = [str(w) for w in rng.choice(FILLERS, size=n - 2)]
    if negated:
        i = int(rng.integers(0, n - 1))  # negator at i, word at i + 1
        order = words[:i] + [negator, word] + words[i:]
    else:
        j = int(rng.integers(0, n - 1))  # word at j, negator anywhere but j - 1
        rest = words[:j] + [word] + words[j:]
        slots = [k for k in range(n) if k != j]  # inserting at k == j would put it right before the word
        k = int(rng.choice(slots)) if rng.random() > 0.4 else j + 1  # 40 %: "good not"
        order = rest[:k] + [negator] + rest[k:]
    label = int(positive != negated)
    return order, label, negated


def negation_corpus(n: int = 6000, seed: int = 0) -> tuple[list[list[str]], np.ndarray]:
    """``n`` sentences and labels from :func:`negation_sentence` with a seeded generator; the labels
    alternate, so the classes are exactly balanced and chance accuracy is 1/2."""
    rng = np.random.default_rng(seed)
    sents, labels = [], []
    for i in range(n):
        s, y, _ = negation_sentence(rng, label=i % 2)
        sents.append(s)
        labels.append(y)
    return sents, np.asarray(labels, dtype=np.int64)


def is_negated(words: list[str]) -> bool:
    """Whether a negator immediately precedes the sentiment word (the rule behind the label)."""
    sentiment = set(POSITIVE) | set(NEGATIVE)
    return any(a in NEGATORS and b in sentiment for a, b in zip(words, words[1:]))


def negation_label(words: list[str]) -> int:
    """The label the generator assigns, recomputed from the words (1 positive)."""
    positive = any(w in POSITIVE for w in words)
    return int(positive != is_negated(words))


# ---------------------------------------------------------------- the MR corpus (Pang & Lee 2005)

MR_MAX_LEN = 56      # tokens; longer snippets are truncated (a handful)
MR_MAX_VOCAB = 20000  # ids the text models reserve by default (vocab_size); the training split has fewer words


def mr_dir(directory: str | Path | None = None, root: str | Path | None = None) -> Path:
    """The directory to read the MR corpus from: ``directory``; else $CONVSTUDIES_MR_DIR; else the
    first of ``<root>/rt-polarity`` (``root``: the data root, ``<repo>/data`` by default) and
    ``../shared/datasets/rt-polarity`` (beside the repository) that holds the files; when neither
    does, ``<root>/rt-polarity`` (where :func:`fetch_mr` puts it).
    """
    if directory is not None:
        return Path(directory).expanduser()
    cands = mr_candidates(root)
    for d in cands:
        if all((d / f).is_file() for f in MR_FILES):
            return d
    return cands[0]


def fetch_mr(directory: str | Path, url: str = MR_URL, timeout: float = 60.0) -> Path:
    """Download Pang & Lee's rt-polaritydata.tar.gz and put the two files into ``directory``.

    Needs network access; the workflow calls it only when the files are missing.
    """
    import io
    import tarfile
    import urllib.request

    directory = Path(directory)
    with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - fixed https URL
        blob = r.read()
    directory.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        for member in tar.getmembers():
            name = Path(member.name).name
            if name in MR_FILES and member.isfile():
                (directory / name).write_bytes(tar.extractfile(member).read())
    missing = [f for f in MR_FILES if not (directory / f).is_file()]
    if missing:
        raise RuntimeError(f"{url} did not contain {missing}")
    return directory


def read_mr(directory: str | Path | None = None, download: bool | None = None,
            root: str | Path | None = None) -> tuple[list[list[str]], np.ndarray]:
    """Tokenised MR sentences and labels (1 positive, 0 negative), positives first.

    ``download``: fetch the corpus into the directory when its files are missing (default:
    unless $CONVSTUDIES_OFFLINE is set). Missing files offline raise FileNotFoundError naming
    the files, the directories searched and how to point the loader elsewhere.
    """
    d = mr_dir(directory, root)
    missing = [f for f in MR_FILES if not (d / f).is_file()]
    if missing:
        if download is None:
            download = not os.environ.get("CONVSTUDIES_OFFLINE")
        err = None
        if download:
            try:
                fetch_mr(d)
                missing = []
            except Exception as e:  # noqa: BLE001 - offline, proxy, moved page: all end in the same advice
                err = e
        if missing:
            searched = [str(directory)] if directory is not None else [str(c) for c in mr_candidates(root)]
            raise FileNotFoundError(
                f"MR corpus not found: {', '.join(missing)} missing in {d} (searched: {', '.join(searched)})"
                + (f"; download from {MR_URL} failed: {err}" if err else "")
                + ". Put rt-polarity.pos and rt-polarity.neg (latin-1, one sentence a line) into one of "
                "these directories or set CONVSTUDIES_MR_DIR to the directory that holds them.")
    sents, labels = [], []
    for fname, label in zip(MR_FILES, (1, 0)):
        # split on newlines only: latin-1 byte 0x85 decodes to U+0085, which str.splitlines() breaks at
        lines = (d / fname).read_bytes().decode("latin-1").split("\n")
        for line in lines:
            toks = tokenize(line)
            if toks:
                sents.append(toks)
                labels.append(label)
    return sents, np.asarray(labels, dtype=np.int64)


def mr_corpus(directory: str | Path | None = None, n_val: int = 960, n_test: int = 1066,
              max_len: int = MR_MAX_LEN, max_vocab: int = MR_MAX_VOCAB, download: bool | None = None,
              root: str | Path | None = None) -> dict:
    """MR as id arrays with a fixed stratified split (90 % / 10 % test, then 10 % of the rest for
    validation) and a vocabulary built from the training split only.

    Returns ``{"splits": (x_train, y_train, x_val, y_val, x_test, y_test), "vocab": [...]}``.
    """
    sents, labels = read_mr(directory, download, root)
    idx = np.arange(len(sents))
    i_tr, _, i_va, _, i_te, _ = stratified_split(idx, labels, n_val=n_val, n_test=n_test)
    vocab = build_vocab([sents[i] for i in i_tr], max_size=max_vocab)
    splits = []
    for part in (i_tr, i_va, i_te):
        splits += [encode([sents[i] for i in part], vocab, max_len), labels[part]]
    return {"splits": tuple(splits), "vocab": vocab}


def negation_splits(n: int = 6000, seed: int = 0) -> tuple:
    """The negation corpus as ids with the fixed split: 3,500 train / 500 val / 2,000 test."""
    sents, labels = negation_corpus(n, seed)
    x = encode(sents, NEGATION_VOCAB, NEGATION_MAX_LEN)
    return stratified_split(x, labels, n_val=500, n_test=n - 4000)


@register_dataset
def negation() -> TensorDataset:
    """Generated negation sentences (:func:`negation_corpus`): 3,500 train / 500 val / 2,000 test rows of
    16 token ids (0 = padding); the label depends on word order only, so bag-of-words is at chance."""
    return from_arrays("negation", negation_splits(), 2)


@register_dataset
def mr(directory: str | Path | None = None, root: str | Path | None = None) -> TensorDataset:
    """The MR sentence-polarity corpus (Pang & Lee; Kim 2014) as rows of 56 token ids: 8,636 train /
    960 val / 1,066 test (fixed stratified split). Read from ``directory``, else $CONVSTUDIES_MR_DIR,
    <root>/rt-polarity (root: the data root, default <repo>/data) or ../shared/datasets/rt-polarity
    beside the repository; downloaded into <root>/rt-polarity when online. See :func:`mr_dir`."""
    return from_arrays("mr", mr_corpus(directory, root=root)["splits"], 2)


def mr_cv_corpus(directory: str | Path | None = None, max_len: int = MR_MAX_LEN, max_vocab: int = MR_MAX_VOCAB,
                 download: bool | None = None, root: str | Path | None = None) -> dict:
    """All 10,662 MR sentences as id rows (positives first, file order) with a vocabulary built from the
    whole corpus, as Kim (2014)'s code builds it for 10-fold cross-validation (random embeddings: a word
    seen only in a test fold keeps its random vector). ``{"x": ..., "y": ..., "vocab": [...]}``."""
    sents, labels = read_mr(directory, download, root)
    vocab = build_vocab(sents, max_size=max_vocab)
    return {"x": encode(sents, vocab, max_len), "y": labels, "vocab": vocab}


@register_dataset
def mr_cv(directory: str | Path | None = None, root: str | Path | None = None) -> TensorDataset:
    """MR for 10-fold cross-validation (Kim 2014): every sentence in the training split (rows of 56 token
    ids, vocabulary over the whole corpus), empty validation and test splits; a run sets ``data.cv_folds``
    and gets fold (seed mod k) as its test split (stratified folds, fixed: base.cv_folds). Read as ``mr``."""
    c = mr_cv_corpus(directory, root=root)
    empty_x, empty_y = c["x"][:0], c["y"][:0]
    return from_arrays("mr_cv", (c["x"], c["y"], empty_x, empty_y, empty_x, empty_y), 2)


def vocabulary(dataset: str) -> list[str]:
    """id -> word for a text dataset (the MR one is rebuilt from its files)."""
    if dataset == "negation":
        return list(NEGATION_VOCAB)
    if dataset == "mr":
        return mr_corpus(download=False)["vocab"]
    if dataset == "mr_cv":
        return mr_cv_corpus(download=False)["vocab"]
    raise ValueError(f"{dataset!r} is not a text dataset; text datasets: negation, mr, mr_cv")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description="Inspect the conv1d study's text corpora.")
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("mr", help="read the MR corpus and print its size, split and vocabulary")
    m.add_argument("directory", nargs="?", default=None)
    m.add_argument("--no-download", action="store_true")
    g = sub.add_parser("negation", help="print example sentences of the generated corpus")
    g.add_argument("-n", type=int, default=8)
    a = p.parse_args(argv)
    if a.cmd == "mr":
        c = mr_corpus(a.directory, download=not a.no_download)
        x_tr, y_tr, x_va, _, x_te, _ = c["splits"]
        lens = (x_tr > 0).sum(1)
        print(f"MR from {mr_dir(a.directory)}: {len(x_tr)} train / {len(x_va)} val / {len(x_te)} test, "
              f"vocabulary {len(c['vocab'])} (train split), length mean {lens.mean():.1f} max {lens.max()}, "
              f"positive fraction (train) {y_tr.mean():.3f}")
    else:
        sents, labels = negation_corpus(a.n, seed=0)
        for s, y in zip(sents, labels):
            print(f"{'pos' if y else 'neg'}  {' '.join(s)}")


if __name__ == "__main__":
    main()
