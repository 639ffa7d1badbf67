"""Tidy tables: one row per run, seed, evaluation condition and metric, from the job summaries.

Beside the table: the per-example values of the evaluations (``examples``: key -> array, the
key in the table's ``examples`` column) and one row per run with what it ran on (``runs``:
git revision, dirty tree, code hash, start time, training job), which the verdict's
registration audit and the report read.

What a finished run is (:func:`run_damage`) is defined here too, where the run files are read:
the train job keeps a run only when every file of it reads, and the workflow records a damaged
run that a job summary lists (:func:`summary_damage`, cheap enough to run while planning), so
its train job runs again. A run file that still cannot be read here
stops the tables step with :class:`RunFileError`: one message naming the file and what to do.
"""
from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

RUN_FILES = ("config.json", "metrics.json", "model.pt", "provenance.json")
METRICS_KEYS = ("status", "params", "n_train")  # what every metrics.json holds, diverged or not
RUN_KEYS = ("dir", "point", "labels", "run", "seed")  # what a job summary says of each run


class RunFileError(ValueError):
    """A run file (or job summary) the tables step cannot read; the message names it and what to do."""


def _what_to_do(summary) -> str:
    return ("The run is damaged: rerun the workflow; it checks the runs every job summary lists while it plans, "
            "and the train job then moves the damaged run aside (<run>.damaged-<UTC time>, nothing is deleted) "
            f"and trains it again. If this message comes back, delete the job summary {summary} and rerun.")


def _json_object(path: Path) -> dict:
    """A JSON object from ``path``; ValueError saying why not (not JSON, not an object)."""
    try:
        doc = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"not valid JSON ({e}; {path.stat().st_size} bytes, truncated?)") from None
    if not isinstance(doc, dict):
        raise ValueError(f"holds a JSON {type(doc).__name__}, not an object")
    return doc


def _referenced_examples(metrics: dict) -> set[str]:
    return {str(r["examples"]) for r in metrics.get("evaluations") or [] if isinstance(r, dict) and "examples" in r}


def run_damage(run_dir: str | Path, deep: bool = True) -> str | None:
    """What makes a run directory unreadable, naming the file; None when every file of it reads.

    Cheap (``deep=False``; the workflow runs it on every listed run while it plans, ~0.5 ms a
    run): every run file exists and is non-empty; what the tables step reads reads: metrics.json
    and provenance.json parse (metrics with a status), and per_example.npz, when metrics rows
    reference ``examples``, is an archive whose directory opens and holds them. ``deep`` (the
    train job's test of a finished run) also parses config.json, opens model.pt's zip directory
    (torch.save's format; the weights are not loaded) and loads the per-example arrays.
    """
    d = Path(run_dir)
    if not d.is_dir():
        return f"{d} does not exist"
    for name in RUN_FILES:
        try:
            size = os.stat(d / name).st_size
        except OSError:
            return f"{d / name} is missing"
        if size == 0:
            return f"{d / name} is empty"
    try:
        metrics = _json_object(d / "metrics.json")
    except (OSError, ValueError) as e:
        return f"{d / 'metrics.json'}: {e}"
    missing = [k for k in METRICS_KEYS if k not in metrics]
    if missing:
        return f"{d / 'metrics.json'} has no {', '.join(missing)}"
    for name in ("provenance.json", *(("config.json",) if deep else ())):
        try:
            _json_object(d / name)
        except (OSError, ValueError) as e:
            return f"{d / name}: {e}"
    examples = _referenced_examples(metrics)
    if examples:
        npz = d / "per_example.npz"
        if not npz.is_file():
            return f"{npz} is missing (metrics.json rows reference it)"
        try:
            if deep:
                _load_npz(npz, examples)
            else:
                with zipfile.ZipFile(npz) as z:  # the directory only: a truncated archive has none
                    lost = sorted(examples - {n.removesuffix(".npy") for n in z.namelist()})
                if lost:
                    return f"{npz} has no array {', '.join(lost)} (metrics.json rows reference it)"
        except (OSError, zipfile.BadZipFile) as e:
            return f"{npz}: unreadable ({e}; truncated?)"
        except ValueError as e:
            return f"{npz}: {e}"
    if deep:
        model = d / "model.pt"
        try:
            with open(model, "rb") as f:
                if f.read(4) != b"PK\x03\x04":
                    return f"{model} is not a torch.save archive (no zip header)"
            with zipfile.ZipFile(model) as z:
                if not z.namelist():
                    return f"{model} is an empty archive"
        except (OSError, zipfile.BadZipFile) as e:
            return f"{model}: unreadable archive ({e}; truncated?)"
    return None


def _load_npz(path: Path, required=()) -> dict[str, np.ndarray]:
    """Every array of an .npz file; ValueError saying why not (damaged, a required key missing)."""
    try:
        with np.load(path) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except Exception as e:  # noqa: BLE001 - zipfile, zlib, pickle and format errors alike
        raise ValueError(f"unreadable ({type(e).__name__}: {e}; truncated?)") from None
    missing = sorted(set(required) - set(arrays))
    if missing:
        raise ValueError(f"has no array {', '.join(missing)} (metrics.json rows reference it)")
    return arrays


def summary_damage(summary: str | Path, deep: bool = False) -> list[str]:
    """What is wrong with a job summary or the runs it lists (one line each; empty: all readable).

    Cheap by default (:func:`run_damage` with ``deep=False``): the workflow calls it for every
    existing job summary while it plans.
    """
    try:
        job = _json_object(Path(summary))
        runs = [r["dir"] for r in job["runs"]]
    except (OSError, ValueError, KeyError, TypeError) as e:
        return [f"job summary {summary} is unreadable ({e})"]
    return [p for p in (run_damage(r, deep) for r in runs) if p]


def _read_run_json(path: Path, summary) -> dict:
    try:
        return _json_object(path)
    except (OSError, ValueError) as e:
        raise RunFileError(f"cannot read run file {path}: {e}. {_what_to_do(summary)}") from None


def run_rows(study: str, point: str, labels: dict, run: dict, summary=None) -> list[dict]:
    """Tidy rows of one run directory: its evaluations plus final training metrics.

    ``summary`` (the job summary listing the run) is named in the :class:`RunFileError` raised
    when metrics.json cannot be read.
    """
    path = Path(run["dir"]) / "metrics.json"
    metrics = _read_run_json(path, summary)
    missing = [k for k in METRICS_KEYS if k not in metrics]
    if missing:
        raise RunFileError(f"cannot read run file {path}: it has no {', '.join(missing)}. {_what_to_do(summary)}")
    if _referenced_examples(metrics) and not (Path(run["dir"]) / "per_example.npz").is_file():
        raise RunFileError(f"run file {Path(run['dir']) / 'per_example.npz'} is missing (metrics.json rows "
                           f"reference it). {_what_to_do(summary)}")
    base = {"study": study, "point": point, **labels, "run": run["run"], "seed": run["seed"],
            "status": metrics["status"]}
    rows = [{**base, **r} for r in metrics.get("evaluations", [])]
    for r in rows:
        if "examples" in r:
            r["examples"] = f"{point}/{run['run']}/{r['examples']}"
    final = {**metrics.get("final", {}), "params": metrics["params"], "n_train": metrics["n_train"],
             "train_images_per_s": metrics.get("train_images_per_s")}
    rows += [{**base, "condition": "final", "metric": k, "value": v} for k, v in final.items()]
    for ep in metrics.get("epochs", []):  # learning curves: one row per epoch and metric
        rows += [{**base, "condition": "epoch", "epoch": ep["epoch"], "metric": k, "value": v}
                 for k, v in ep.items() if k != "epoch"]
    if metrics["status"] != "ok":
        rows.append({**base, "condition": "final", "metric": "diverged", "value": 1.0})
    return rows


def _runs(summaries):
    """(summary path, job, run) for every run the job summaries list; RunFileError for an unreadable summary."""
    for s in summaries:
        try:
            job = _json_object(Path(s))
            runs = list(job["runs"])
            bad = [r for r in runs if not isinstance(r, dict) or not set(RUN_KEYS) <= r.keys()]
            if bad:
                raise ValueError(f"a listed run lacks one of {', '.join(RUN_KEYS)}: {bad[0]!r}")
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise RunFileError(f"cannot read job summary {s}: {type(e).__name__}: {e}. Rerun the workflow: it "
                               "notices this while it plans and runs the train job again (finished runs are "
                               f"kept); if this message comes back, delete {s} and rerun.") from None
        for run in runs:
            yield s, job, run


def collect(summaries: list[str | Path]) -> pd.DataFrame:
    """One row per run, seed, evaluation condition and metric, from job summary files."""
    rows = []
    for s, job, run in _runs(summaries):
        rows += run_rows(job["study"], run["point"], run["labels"], run, summary=s)
    return pd.DataFrame(rows)


def collect_examples(summaries: list[str | Path]) -> dict[str, np.ndarray]:
    """Per-example values of every run (``<point>/<run>/<row>`` -> array), as the table's ``examples`` column names them."""
    out = {}
    for s, _, run in _runs(summaries):
        path = Path(run["dir"]) / "per_example.npz"
        if path.exists():
            try:
                arrays = _load_npz(path)
            except ValueError as e:
                raise RunFileError(f"cannot read run file {path}: {e}. {_what_to_do(s)}") from None
            out.update({f"{run['point']}/{run['run']}/{k}": v for k, v in arrays.items()})
    return out


def collect_runs(summaries: list[str | Path]) -> pd.DataFrame:
    """One row per run: point, seed, run, git revision, dirty tree, code hash, start time, and the
    file name of the summary of the training job that listed it (in the study's runs directory)."""
    rows = []
    for s, _, run in _runs(summaries):
        prov = _read_run_json(Path(run["dir"]) / "provenance.json", s)
        runtime = prov.get("runtime", {})
        rows.append({"point": run["point"], "seed": run["seed"], "run": run["run"],
                     "git": prov.get("git", {}).get("revision"), "dirty": prov.get("git", {}).get("dirty"),
                     "code": (runtime.get("execution") or {}).get("code"), "started": runtime.get("started"),
                     "job": Path(s).name})
    return pd.DataFrame(rows, columns=["point", "seed", "run", "git", "dirty", "code", "started", "job"])


def save_examples(examples: dict[str, np.ndarray], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:  # a file object: numpy would append .npz to a path
        np.savez_compressed(f, **examples)


def load_examples(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as npz:
        return {k: npz[k] for k in npz.files}
