"""What the workflow will do: every study's grid points and seeds, checked before any job.

Imported by the Snakefile while it parses, so it imports no torch: the study contract and
the model, dataset and evaluation names are checked against the sources
(:mod:`convstudies.contract`).
"""
from __future__ import annotations

from pathlib import Path

from .config import STUDIES_DIR, check_init_from, expand_points, load_study, seeds_for, study_file
from .contract import check_points, check_study_code


def plan(config: dict, studies_dir: Path = STUDIES_DIR, check_contract: bool = True) -> dict:
    """study -> {study, points, seeds} for the config's scale. Raises ConfigError early."""
    out = {}
    for sid in config["studies"]:
        study = load_study(sid, studies_dir)
        src = str(study_file(sid, studies_dir))
        points = expand_points(study, config["scale"], src, config.get("phase", "confirmation"))
        check_init_from(points, src)
        if check_contract:
            check_study_code(study, Path(studies_dir) / sid)
            check_points(points, src)
        seeds = seeds_for(study, config["scale"], config.get("phase", "confirmation"), config.get("seeds"))
        out[sid] = {"study": study, "points": points, "seeds": seeds}
    return out


def entry_code_key(planned_study: dict, entry: str, seeds: list[int] | None = None) -> str:
    """sha256 (16 hex digits) of a grid entry's resolved configs, seeds and the code its runs execute.

    ``seeds``: a training job's own seeds (a job per seed) instead of the study's."""
    import hashlib
    import json

    from .codekey import code_hash

    points = {pid: p["config"] for pid, p in planned_study["points"].items() if p["entry"] == entry}
    payload = {"seeds": planned_study["seeds"] if seeds is None else seeds,
               "points": {pid: {"config": cfg, "code": code_hash(cfg)} for pid, cfg in points.items()}}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
