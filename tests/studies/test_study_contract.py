"""Every study directory keeps the contract: analysis and figures import no torch, and the
public functions of figures.py are exactly the study file's figures (besides the generic
figures of convstudies.figures_generic, which a study lists without defining)."""
import importlib

import pytest

from convstudies.config import load_study, ordered_studies
from helpers.processes import VIOLATION, run_without_torch


@pytest.mark.parametrize("study", ordered_studies())
def test_analysis_and_figures_import_without_torch(study):
    code = f"import convstudies.studies.{study}.analysis, convstudies.studies.{study}.figures"
    out = run_without_torch(["-c", code])
    assert out.returncode == 0 and VIOLATION not in out.stderr, out.stderr


@pytest.mark.parametrize("study", ordered_studies())
def test_figures_module_has_exactly_the_study_files_figures(study):
    figures = importlib.import_module(f"convstudies.studies.{study}.figures")
    public = {n for n, f in vars(figures).items() if callable(f) and not n.startswith("_")
              and getattr(f, "__module__", "") == figures.__name__}
    generic = {n for n in dir(importlib.import_module("convstudies.figures_generic")) if not n.startswith("_")}
    listed = set(load_study(study)["figures"])
    assert public == listed - (generic - public)  # a listed name it does not define is a generic figure
