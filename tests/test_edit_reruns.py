"""An edit reruns exactly what it changes, and nothing else.

After a real tiny run of one study with two grid entries (``helpers.tiny_study``: residual,
entries ``plain`` and ``residual``), each test edits the study's files (a copy the workflow
reads through ``CONVSTUDIES_STUDIES_DIR``), asks Snakemake what it would do (``-n``: a dry run
plans in seconds) and restores the files, bytes and modification times. Two mechanisms are at
work: the train rule's param ``key`` (``convstudies.plan.entry_code_key``: the entry's resolved
configs, seeds and code) redoes a training job when, and only when, what its runs would be
changes (Snakemake's params rerun-trigger); the analysis rules take the study's files
(study.yaml, analysis.py, figures.py) as inputs, so editing one redoes the steps that read it
(a changed file, not a newer date: Snakemake compares the checksums it recorded of small inputs).
"""
import os

import pytest

from conftest import edit_study
from helpers.tiny_study import STUDY, planned_jobs, tiny_study

pytestmark = pytest.mark.slow
ANALYSIS = {"tables", "figures", "verdict", "report_markdown", "all"}


@pytest.fixture
def run(tmp_path_factory):
    r = tiny_study(tmp_path_factory)
    r.restore()
    yield r
    r.restore()


def plan(run) -> tuple[list[tuple[str, dict]], str]:
    out = run.snakemake("-n")
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-3000:]
    return planned_jobs(text), text


def rules(jobs) -> set[str]:
    return {rule for rule, _ in jobs}


def test_without_an_edit_nothing_is_rerun(run):
    jobs, text = plan(run)
    assert jobs == [], text[-3000:]
    assert "Nothing to be done" in text


def test_an_edit_to_one_entrys_config_retrains_that_entry_only_and_redoes_what_follows(run):
    def slower_plain_nets(doc):
        plain = next(e for e in doc["grid"] if e["id"] == "plain")
        plain.setdefault("set", {}).setdefault("train", {})["lr"] = 0.0123  # not the study's lr

    # the whole file is rewritten (yaml.safe_dump): only the plain entry's resolved configs change
    edit_study(run.studies_dir, slower_plain_nets, STUDY)
    jobs, text = plan(run)
    trained = [wc for rule, wc in jobs if rule == "train"]
    assert trained == [{"study": STUDY, "entry": "plain"}], text[-3000:]
    assert "Params have changed since last execution" in text  # the key, not a file date, triggered it
    assert rules(jobs) == {"train"} | ANALYSIS  # no data preparation; every step after training
    assert all(wc.get("study", STUDY) == STUDY for _, wc in jobs)


def test_an_edit_to_a_figure_caption_retrains_nothing(run):
    def recaption(doc):
        fig = next(iter(doc["figures"]))
        doc["figures"][fig] += " Edited."

    edit_study(run.studies_dir, recaption, STUDY)
    jobs, text = plan(run)
    # captions are a param of figures; the study file is an input of the verdict (its audit hashes it)
    assert rules(jobs) == {"figures", "verdict", "report_markdown", "all"}, text[-3000:]


def test_an_edit_to_figures_py_redraws_the_figures_only(run):
    with open(run.study_dir / "figures.py", "a") as f:
        f.write("\n# an edit\n")
    jobs, text = plan(run)
    assert rules(jobs) == {"figures", "report_markdown", "all"}, text[-3000:]
    assert [wc for rule, wc in jobs if rule == "figures"] == [{"study": STUDY}]


def test_touching_figures_py_without_changing_it_reruns_nothing(run):
    """Snakemake 9 records the checksums of small input files: a newer date alone redoes nothing."""
    os.utime(run.study_dir / "figures.py")  # now: newer than every output
    jobs, text = plan(run)
    assert jobs == [], text[-3000:]


def test_an_edit_to_analysis_py_redoes_tables_figures_and_verdict_but_trains_nothing(run):
    with open(run.study_dir / "analysis.py", "a") as f:
        f.write("\n# an edit\n")
    jobs, text = plan(run)
    assert rules(jobs) == ANALYSIS, text[-3000:]
