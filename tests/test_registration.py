"""Pre-registration: what the hash covers, and when a claim is exploratory."""
import copy
import datetime
import shutil

import pandas as pd
import pytest
import yaml

from convstudies.config import load_study
from convstudies.registration import audit, register, study_hash

from conftest import REPO


@pytest.fixture
def study_dir(tmp_path):
    shutil.copytree(REPO / "studies" / "translation", tmp_path / "translation",
                    ignore=shutil.ignore_patterns("__pycache__", "registration.yaml"))
    return tmp_path / "translation"


def spec(study_dir):
    return yaml.safe_load((study_dir / "study.yaml").read_text())


@pytest.mark.parametrize("edit,changes", [
    (lambda s: s["thresholds"].update(mlp_drop_min=0.2), True),
    (lambda s: s["defaults"]["train"].update(lr=0.1), True),
    (lambda s: s["scales"]["embedded"]["seeds"]["confirmation"].append(1003), True),
    (lambda s: s["grid"].pop(), True),
    (lambda s: s.update(claim="Another claim."), True),
    (lambda s: s.update(description="Reworded."), False),
    (lambda s: s["figures"].update(accuracy_vs_shift="A new caption."), False),
    (lambda s: s.update(history=[{"date": "2026-12-01", "change": "x", "why": "y"}]), False),
])
def test_the_hash_covers_claim_thresholds_design_and_seeds_not_prose_or_history(study_dir, edit, changes):
    before = study_hash(spec(study_dir), study_dir)
    s = copy.deepcopy(spec(study_dir))
    edit(s)
    assert (study_hash(s, study_dir) != before) == changes


def test_the_hash_covers_the_verdict_code(study_dir):
    before = study_hash(spec(study_dir), study_dir)
    (study_dir / "analysis.py").write_text((study_dir / "analysis.py").read_text() + "\n# changed\n")
    assert study_hash(spec(study_dir), study_dir) != before
    (study_dir / "figures.py").write_text((study_dir / "figures.py").read_text() + "\n# changed\n")
    assert study_hash(spec(study_dir), study_dir) != before


def runs(dirty=False, git="abc"):
    return pd.DataFrame([{"git": git, "dirty": dirty}])


def test_an_unregistered_or_changed_or_reworked_study_is_exploratory_with_its_reasons(study_dir):
    s = spec(study_dir)
    s.pop("history", None)
    out = audit(s, study_dir, runs(), "confirmation", False)
    assert out["exploratory"] and out["registration"]["registered_hash"] is None
    assert "not registered" in out["exploratory_reasons"][0]
    record = register(s, study_dir, today=datetime.date(2026, 12, 1))
    assert yaml.safe_load((study_dir / "registration.yaml").read_text())["sha256"] == record["sha256"]
    out = audit(s, study_dir, runs(), "confirmation", False)
    assert out["registration"]["matches"] and out["registration"]["registered_on"] == "2026-12-01"
    assert "registration.yaml is not committed" in out["exploratory_reasons"]  # a copy outside the repository
    s2 = {**s, "thresholds": {**s["thresholds"], "mlp_drop_min": 0.1}}
    assert "changed after its registration" in " ".join(audit(s2, study_dir, runs(), "confirmation", False)[
        "exploratory_reasons"])
    reasons = audit({**s, "history": [{"date": "d", "change": "c", "why": "w"}]}, study_dir, runs(dirty=True),
                    "development", True)["exploratory_reasons"]
    assert any("rework" in r for r in reasons) and "development seeds" in reasons
    assert "seeds overridden from the command line" in reasons
    assert any("uncommitted changes" in r for r in reasons)


def test_every_real_study_has_a_history_that_names_what_changed_and_why():
    from convstudies.config import ordered_studies

    for sid in ordered_studies():
        for h in load_study(sid).get("history", []):
            assert h["date"] and h["change"].strip() and h["why"].strip()
