"""The study contract, checked while the workflow plans (no torch, no study code imported).

A study directory ``studies/<id>/`` provides ``study.yaml``; ``analysis.py`` with
``verdict(table, summary, thresholds, examples)`` and ``key_table(summary)`` (and optionally
``derive(table)``), reading each threshold as ``thresholds["name"]``; ``figures.py`` with
one function per figure the study file names; and, if it names evaluations of its own,
``evaluations.py``. Every model, dataset and evaluation a grid point names must be
registered and accept the arguments given. Violations are :class:`ConfigError`s naming the
study file and the key.
"""
from __future__ import annotations

import ast
from pathlib import Path

from .config import ConfigError
from .registry import UnknownName

ANALYSIS_FUNCTIONS = ("verdict", "key_table")
FIXED_MODEL_ARGS = {"in_shape", "num_classes"}     # given by the data, not by the study file
FIXED_EVALUATION_ARGS = ("model", "data", "cfg")   # every evaluation's first three arguments


def _tree(path: Path) -> ast.Module:
    if not path.exists():
        raise ConfigError(f"{path} is missing: a study directory needs study.yaml, analysis.py and figures.py "
                          "(see studies/__init__.py)")
    return ast.parse(path.read_text(), filename=str(path))


GENERIC_FIGURES = Path(__file__).with_name("figures_generic.py")  # figures any study can list


def top_level_functions(path: Path) -> set[str]:
    return {n.name for n in _tree(path).body if isinstance(n, ast.FunctionDef)}


def thresholds_read(path: Path) -> set[str]:
    """Keys read as ``thresholds["key"]`` or ``thresholds.get("key")`` anywhere in a module."""
    keys = set()
    for node in ast.walk(_tree(path)):
        if (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "thresholds"
                and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str)):
            keys.add(node.slice.value)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
              and isinstance(node.func.value, ast.Name) and node.func.value.id == "thresholds" and node.args
              and isinstance(node.args[0], ast.Constant)):
            keys.add(node.args[0].value)
    return keys


def check_study_code(study: dict, study_dir: Path) -> None:
    """analysis.py has the verdict's functions and reads exactly the registered thresholds;
    figures.py has a function per figure."""
    src = study_dir / "study.yaml"
    analysis = study_dir / "analysis.py"
    missing = [f for f in ANALYSIS_FUNCTIONS if f not in top_level_functions(analysis)]
    if missing:
        raise ConfigError(f"{analysis}: defines no {', '.join(f'{m}()' for m in missing)} "
                          "(a study's analysis provides verdict(table, summary, thresholds, examples) and key_table(summary))")
    registered, read = set(study.get("thresholds", {})), thresholds_read(analysis)
    if read - registered:
        raise ConfigError(f"{src}: thresholds: the verdict in {analysis.name} reads {sorted(read - registered)}, "
                          f"which the study file does not register; registered: {', '.join(sorted(registered))}")
    if registered - read:
        raise ConfigError(f"{src}: thresholds: {sorted(registered - read)} registered but never read by the "
                          f"verdict in {analysis.name}; remove them or use them")
    figures = study.get("figures", {})
    defined = top_level_functions(study_dir / "figures.py") if figures else set()
    generic = top_level_functions(GENERIC_FIGURES) if figures else set()
    for name in figures:
        if name not in defined | generic:
            raise ConfigError(f"{src}: figures.{name}: {study_dir / 'figures.py'} has no function {name}(table, "
                              f"summary); functions: {', '.join(sorted(f for f in defined if not f.startswith('_')))}; "
                              f"figures any study can list: {', '.join(sorted(generic))}")


def _unknown(source: str, pid: str, key: str, err: UnknownName) -> ConfigError:
    return ConfigError(f"{source} point {pid!r}: {key}: {err}")


def check_points(points: dict[str, dict], source: str) -> None:
    """Every dataset, model and evaluation a grid point names is registered and takes the given arguments."""
    from .datasets import DATASETS
    from .evaluations import EVALUATIONS
    from .models import MODELS

    for pid, p in points.items():
        cfg = p["config"]
        try:
            DATASETS.entry(cfg["data"]["dataset"])
        except UnknownName as e:
            raise _unknown(source, pid, "data.dataset", e) from None
        m = cfg["model"]
        try:
            allowed = set(MODELS.entry(m["name"]).params) - FIXED_MODEL_ARGS
        except UnknownName as e:
            raise _unknown(source, pid, "model.name", e) from None
        bad = sorted(set(m) - {"name"} - allowed)
        if bad:
            raise ConfigError(f"{source} point {pid!r}: model: {m['name']!r} does not take {bad}; "
                              f"allowed: {', '.join(sorted(allowed))}")
        for i, ev in enumerate(cfg["evaluations"]):
            try:
                entry = EVALUATIONS.entry(ev["name"])
            except UnknownName as e:
                raise _unknown(source, pid, f"evaluations[{i}].name", e) from None
            takes = set(entry.params) - set(FIXED_EVALUATION_ARGS)
            given = set(ev.get("params", {}))
            bad = sorted(given - takes)
            if bad:
                raise ConfigError(f"{source} point {pid!r}: evaluations[{i}].params: {ev['name']!r} does not take "
                                  f"{bad}; allowed: {', '.join(sorted(takes)) or '(none)'}")
            required = sorted(a for a in takes - given if a not in entry.defaults)
            if required:
                raise ConfigError(f"{source} point {pid!r}: evaluations[{i}].params: {ev['name']!r} needs {required}")

