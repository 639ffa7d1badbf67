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
        points = expand_points(study, config["scale"], src)
        check_init_from(points, src)
        if check_contract:
            check_study_code(study, Path(studies_dir) / sid)
            check_points(points, src)
        out[sid] = {"study": study, "points": points, "seeds": seeds_for(study, config["scale"], config.get("seeds"))}
    return out
