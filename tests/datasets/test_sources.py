"""The torch-free offline check names every missing full-scale file, the MR corpus included, with the
text loader's own lookup order ($CONVSTUDIES_MR_DIR, <data root>/rt-polarity, ../shared/datasets/rt-polarity)."""
import subprocess

import pytest

from convstudies.datasets import sources, text
from helpers.processes import VIOLATION, run_without_torch

from conftest import REPO, snakemake_cmd

OFFLINE = {"is_online": lambda host: False}


@pytest.fixture
def fake_repo(tmp_path, monkeypatch):
    """A repository at tmp/repo: the shared corpus is looked for at tmp/shared/datasets/rt-polarity."""
    monkeypatch.delenv("CONVSTUDIES_MR_DIR", raising=False)
    monkeypatch.setattr(sources, "REPO", tmp_path / "repo")
    return tmp_path


def write_mr(directory, files=sources.MR_FILES):
    directory.mkdir(parents=True, exist_ok=True)
    for f in files:
        (directory / f).write_bytes(b"a good film\n" if f.endswith("pos") else b"a bad film\n")
    return directory


def test_mr_missing_offline_names_each_file_where_it_looked_and_how_to_get_it(fake_repo):
    root = fake_repo / "data root"
    msgs = sources.unavailable({"mr", "negation"}, root, **OFFLINE)
    assert [m.split(";")[0] for m in msgs] == ["mr: rt-polarity.pos missing", "mr: rt-polarity.neg missing"]
    shared = fake_repo / "shared" / "datasets" / "rt-polarity"
    for m, f in zip(msgs, sources.MR_FILES):
        assert f"expected at {root / 'rt-polarity' / f} (looked in {root / 'rt-polarity'}, {shared})" in m
        assert sources.MR_URL in m and "CONVSTUDIES_MR_DIR" in m
    assert sources.unavailable({"mr"}, root, is_online=lambda host: True) == []  # it will be downloaded


def test_mr_is_found_where_the_text_loader_reads_it(fake_repo, monkeypatch):
    root = fake_repo / "data"
    write_mr(fake_repo / "shared" / "datasets" / "rt-polarity")  # beside the repository
    assert sources.unavailable({"mr"}, root, **OFFLINE) == []
    assert sources.mr_found(root) == text.mr_dir(root=root) == fake_repo / "shared" / "datasets" / "rt-polarity"
    write_mr(root / "rt-polarity")  # the data root comes first
    assert sources.mr_found(root) == text.mr_dir(root=root) == root / "rt-polarity"
    assert text.read_mr(root=root, download=False)[1].tolist() == [1, 0]

    monkeypatch.setenv("CONVSTUDIES_MR_DIR", str(fake_repo / "elsewhere"))  # an explicit choice: nothing else
    msgs = sources.unavailable({"mr"}, root, **OFFLINE)
    assert len(msgs) == 2 and f"expected at {fake_repo / 'elsewhere' / 'rt-polarity.pos'} (looked in " \
        f"{fake_repo / 'elsewhere'})" in msgs[0]
    write_mr(fake_repo / "elsewhere")
    assert sources.unavailable({"mr"}, root, **OFFLINE) == [] and text.mr_dir(root=root) == fake_repo / "elsewhere"


def test_a_half_present_corpus_names_the_file_that_is_missing(fake_repo):
    root = fake_repo / "data"
    write_mr(root / "rt-polarity", files=["rt-polarity.pos"])
    msgs = sources.unavailable({"mr"}, root, **OFFLINE)
    assert len(msgs) == 1 and msgs[0].startswith(f"mr: rt-polarity.neg missing; expected at {root / 'rt-polarity'}")


def test_the_text_module_uses_the_same_lookup():
    assert text.mr_candidates is sources.mr_candidates
    assert (text.MR_FILES, text.MR_URL) == (sources.MR_FILES, sources.MR_URL)
    assert sources.mr_candidates("d")[1] == REPO.parent / "shared" / "datasets" / "rt-polarity"


def test_the_check_imports_no_torch(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVSTUDIES_MR_DIR", str(tmp_path / "no mr"))
    r = run_without_torch(["-c", "from convstudies.datasets.sources import unavailable; "
                           f"print(unavailable({{'mr', 'mnist'}}, {str(tmp_path)!r}, is_online=lambda h: False))"],
                          cwd=REPO, timeout=120)
    assert r.returncode == 0 and VIOLATION not in r.stderr, r.stderr
    assert "mr: rt-polarity.pos missing" in r.stdout and "mnist: train-images-idx3-ubyte missing" in r.stdout


def test_workflow_stops_before_any_job_when_mr_is_missing_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVSTUDIES_OFFLINE", "1")
    monkeypatch.setenv("CONVSTUDIES_MR_DIR", str(tmp_path / "no mr"))
    out = subprocess.run(snakemake_cmd(tmp_path, "-n", "--cores", "1", "--config", "scale=full", "studies=[conv1d]",
                                       f"data_root={tmp_path / 'nodata'}"),
                         capture_output=True, text=True, timeout=300)
    text_ = out.stdout + out.stderr
    assert out.returncode != 0, text_[-3000:]
    assert "full-scale data are missing and cannot be downloaded (offline)" in text_
    for f in sources.MR_FILES:
        assert f"mr: {f} missing; expected at {tmp_path / 'no mr' / f}" in text_
    assert "Traceback" not in text_ and not (tmp_path / "results").exists()
