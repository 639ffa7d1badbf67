"""Evaluations: functions run on a trained model that return tidy rows (condition columns, metric, value).

    @register_evaluation
    def accuracy(model, data, cfg, split="test") -> list[dict]: ...

The shared ones live in :mod:`convstudies.evaluations.common`; a study registers its own in
``studies/<id>/evaluations.py``. A study file names evaluations by name with their
``params``; the plan checks both against the sources before any job starts (no torch
import), and a training job imports an evaluation's module when it runs it.
"""
from __future__ import annotations

from pathlib import Path

from ..registry import Registry, modules_in, package_dir


def _sources() -> list[tuple[str, Path]]:
    studies = package_dir("convstudies.studies")
    return modules_in("convstudies.evaluations")() + [
        (f"convstudies.studies.{p.parent.name}.evaluations", p) for p in sorted(studies.glob("*/evaluations.py"))]


EVALUATIONS = Registry("evaluation", "register_evaluation", _sources)
register_evaluation = EVALUATIONS.register
get_evaluation = EVALUATIONS.get
list_evaluations = EVALUATIONS.names

__all__ = ["EVALUATIONS", "get_evaluation", "list_evaluations", "register_evaluation"]
