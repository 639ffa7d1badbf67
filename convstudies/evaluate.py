"""Evaluate a finished run on another dataset split: ``convstudies-evaluate RUN_DIR ...``.

    convstudies-evaluate results/runs/translation/cnn_gap/seed0-1a2b3c4d --idx-dir ~/mnist --split test
    convstudies-evaluate RUN_DIR --dataset mnist5k --split val

``--idx-dir`` reads MNIST in its IDX layout through torchvision: either torchvision's own
layout (DIR/MNIST/raw/t10k-images-idx3-ubyte) or the four files directly in DIR, plain or
gzipped. The images get the run's own view (canvas placement) before evaluation. Prints
the accuracy and writes it to RUN_DIR/evaluations/<name>.json (never overwriting).
"""
from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sys
import tempfile
from pathlib import Path

IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _find(directory: Path, name: str) -> Path:
    for cand in (directory / name, directory / f"{name}.gz", directory / "MNIST" / "raw" / name,
                 directory / "MNIST" / "raw" / f"{name}.gz"):
        if cand.exists():
            return cand
    raise FileNotFoundError(f"MNIST file {name} (or {name}.gz) not found in {directory} or {directory}/MNIST/raw; "
                            "download the four IDX files of MNIST there")


def read_idx(directory: str | Path, split: str = "test"):
    """(images float (N, 1, 28, 28) in [0, 1], labels long (N,)) from MNIST IDX files, via torchvision."""
    from torchvision.datasets.mnist import read_image_file, read_label_file

    paths = [_find(Path(directory), n) for n in IDX_FILES[split]]
    with tempfile.TemporaryDirectory() as tmp:
        plain = []
        for p in paths:
            if p.suffix == ".gz":
                out = Path(tmp) / p.stem
                with gzip.open(p, "rb") as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                p = out
            plain.append(p)
        try:
            x, y = read_image_file(str(plain[0])), read_label_file(str(plain[1]))
        except Exception as e:  # noqa: BLE001 - a corrupt file gets a message naming it
            raise ValueError(f"cannot read MNIST IDX files {paths[0]} / {paths[1]}: {e}") from e
    if len(x) != len(y):
        raise ValueError(f"{paths[0]} has {len(x)} images but {paths[1]} has {len(y)} labels")
    return x[:, None].float() / 255.0, y.long()


def load_run(run_dir: str | Path):
    """The trained model of a run directory and its resolved config (weights loaded with weights_only=True)."""
    import torch

    from .models import create_model

    run_dir = Path(run_dir)
    missing = [f for f in ("config.json", "metrics.json", "model.pt") if not (run_dir / f).exists()]
    if missing:
        raise FileNotFoundError(f"{run_dir} is not a finished run directory: missing {', '.join(missing)}")
    cfg = json.loads((run_dir / "config.json").read_text())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    kw = {k: v for k, v in cfg["model"].items() if k != "name"}
    model = create_model(cfg["model"]["name"], in_shape=tuple(metrics["in_shape"]),
                         num_classes=metrics["num_classes"], **kw)
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
    from .engine.evaluations import accuracy_of
    from .shifts import place_on_canvas

    model, cfg = load_run(run_dir)
    if cfg["data"].get("canvas"):
        x = place_on_canvas(x, cfg["data"]["canvas"])
    return accuracy_of(model, x, y)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Evaluate a trained run on another dataset split.")
    p.add_argument("run_dir", type=Path)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--idx-dir", type=Path, help="directory with MNIST IDX files")
    src.add_argument("--dataset", help="an embedded dataset name (e.g. mnist5k)")
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--out", type=Path, default=None, help="result JSON (default RUN_DIR/evaluations/<name>.json)")
    a = p.parse_args(argv)
    try:
        if a.idx_dir:
            if a.split == "val":
                raise ValueError("MNIST IDX files have train and test splits only")
            x, y = read_idx(a.idx_dir, a.split)
            name = f"mnist_idx-{a.split}"
        else:
            from .data import build_dataset

            ds = build_dataset(a.dataset)
            x, y = getattr(ds, f"x_{a.split}"), getattr(ds, f"y_{a.split}")
            name = f"{a.dataset}-{a.split}"
        out = a.out or a.run_dir / "evaluations" / f"{name}.json"
        if out.exists():
            raise FileExistsError(f"{out} exists; pass another --out to keep both")
        acc = evaluate_run(a.run_dir, x, y)
    except (ValueError, FileNotFoundError, FileExistsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"run": str(a.run_dir), "data": name, "n": len(y), "accuracy": acc}, indent=1))
    print(f"{name}: accuracy {acc:.4f} on {len(y)} examples -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
