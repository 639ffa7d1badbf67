"""Finished run directories: load a run's model, evaluate it on other data."""
from __future__ import annotations

import json
from pathlib import Path


RUN_FILES = ("config.json", "metrics.json", "model.pt")


def check_run_dir(run_dir: str | Path) -> Path:
    """The run directory, or FileNotFoundError naming what is missing (no torch needed)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir} does not exist; a run directory is results/runs/<study>/<point>/<run>")
    missing = [f for f in RUN_FILES if not (run_dir / f).exists()]
    if missing:
        raise FileNotFoundError(f"{run_dir} is not a finished run directory: missing {', '.join(missing)}")
    return run_dir


def load_run(run_dir: str | Path):
    """The trained model of a run directory and its resolved config (weights loaded with weights_only=True)."""
    import torch

    from ..models import build_model

    run_dir = check_run_dir(run_dir)
    cfg = json.loads((run_dir / "config.json").read_text())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    model = build_model(cfg["model"], metrics["in_shape"], metrics["num_classes"])
    try:
        state = torch.load(run_dir / "model.pt", weights_only=True, map_location="cpu")
        model.load_state_dict(state)
    except Exception as e:  # noqa: BLE001
        raise ValueError(f"cannot load weights {run_dir / 'model.pt'}: the file is damaged, is not a state dict "
                         f"saved by convstudies, or belongs to another model ({type(e).__name__}). Retrain the run: "
                         "move its directory away and rerun the workflow.") from e
    return model.eval(), cfg


def evaluate_run(run_dir, x, y) -> float:
    """Accuracy of a run's model on (x, y), after the run's own canvas placement."""
    from ..evaluations.common import accuracy_of
    from ..shifts import place_on_canvas

    model, cfg = load_run(run_dir)
    if cfg["data"].get("canvas"):
        x = place_on_canvas(x, cfg["data"]["canvas"])
    return accuracy_of(model, x, y)
