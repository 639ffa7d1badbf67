"""Pre-registration of a study's design, and the audit every claim carries.

``studies/<id>/registration.yaml`` (committed) holds the sha256 of what decides the study
-- its claim, thresholds, defaults, grid, scales (seeds included) and its verdict code
(``analysis.py``) -- and the date it was registered; the history, description, captions and
anchors are not in the hash. ``convstudies register ID`` writes it; commit it *before* any
run on the confirmation seeds. A claim is **confirmatory** only when: the study is
registered and unchanged since; it has no rework after results were seen (``history`` in
the study file); the verdict used the confirmation seeds unchanged; and every run was
trained from a clean tree at a revision that already held the registration. Otherwise it is
**exploratory**, with the reasons listed.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import subprocess
from pathlib import Path

import yaml

from .config import ROOT

REGISTERED = ("claim", "thresholds", "defaults", "grid", "scales")


def study_hash(study: dict, study_dir: Path) -> str:
    """sha256 of the study's claim, thresholds, design, seeds and verdict code."""
    design = {k: study.get(k) for k in REGISTERED}
    design["verdict_code"] = hashlib.sha256((Path(study_dir) / "analysis.py").read_bytes()).hexdigest()
    return hashlib.sha256(json.dumps(design, sort_keys=True).encode()).hexdigest()


def registration_file(study_dir: Path) -> Path:
    return Path(study_dir) / "registration.yaml"


def register(study: dict, study_dir: Path, today: datetime.date | None = None) -> dict:
    """Write registration.yaml for the study as it is now (commit it before confirmation runs)."""
    record = {"study": study["study"], "sha256": study_hash(study, study_dir),
              "registered": str(today or datetime.date.today()),
              "covers": list(REGISTERED) + ["analysis.py"]}
    registration_file(study_dir).write_text(
        "# Written by `convstudies register`; commit it before any run on the confirmation seeds.\n"
        + yaml.safe_dump(record, sort_keys=False))
    return record


def _git(*args) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _is_ancestor(commit: str, revision: str) -> bool:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "merge-base", "--is-ancestor", commit, revision],
                             capture_output=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0


def audit(study: dict, study_dir: Path, runs, phase: str, seeds_overridden: bool) -> dict:
    """The ``registration`` object of a claim and whether the claim is exploratory (with reasons).

    ``runs``: one row per run used (columns git, dirty), from ``convstudies.tables.collect_runs``.
    """
    current = study_hash(study, study_dir)
    path = registration_file(study_dir)
    record = yaml.safe_load(path.read_text()) if path.exists() else None
    rel = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
    commit = _git("log", "-1", "--format=%H", "--", rel) if record else None
    head = _git("rev-parse", "HEAD")
    registration = {
        "hash": current, "registered_hash": record.get("sha256") if record else None,
        "registered_on": record.get("registered") if record else None,
        "matches": bool(record) and record.get("sha256") == current,
        "registration_commit": commit or None, "git": head, "dirty": bool(_git("status", "--porcelain")),
    }
    reasons = []
    if record is None:
        reasons.append("the study is not registered (no registration.yaml)")
    elif not registration["matches"]:
        reasons.append("the study's design or verdict code changed after its registration")
    elif commit is None:
        reasons.append("registration.yaml is not committed")
    if study.get("history"):
        reasons.append(f"{len(study['history'])} rework(s) after results were seen (history); the embedded test "
                       "split was seen earlier")
    if phase != "confirmation":
        reasons.append(f"{phase} seeds")
    if seeds_overridden:
        reasons.append("seeds overridden from the command line")
    if len(runs) and runs["dirty"].fillna(True).astype(bool).any():
        reasons.append("some runs were trained from a tree with uncommitted changes")
    if commit and len(runs):
        revisions = set(runs["git"].dropna())
        if runs["git"].isna().any() or not all(_is_ancestor(commit, r) for r in revisions):
            reasons.append("some runs were trained before the registration was committed")
    return {"registration": registration, "exploratory": bool(reasons), "exploratory_reasons": reasons}
