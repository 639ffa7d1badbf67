"""Compare the run directories of two results trees: a refactor must change no number.

    python tools/compare_runs.py BEFORE/results/runs AFTER/results/runs [--studies lenet5 residual]

For every run directory under BEFORE (``<study>/<point>/seed<N>-<hash>``) it compares, with
the same relative path under AFTER: the sha256 of ``model.pt``, ``config.json`` byte for
byte, and ``metrics.json`` without the fields that measure time (wall and fit seconds,
images per second, and evaluation rows whose metric is a throughput). Prints one line per
run and exits non-zero when anything differs or is missing.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

TIMING_FIELDS = {"wall_seconds", "fit_seconds", "train_images_per_s"}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def timeless_metrics(path: Path) -> dict:
    m = json.loads(path.read_text())
    for k in TIMING_FIELDS:
        m.pop(k, None)
    m["evaluations"] = [r for r in m.get("evaluations", []) if "per_s" not in str(r.get("metric", ""))
                        and "seconds" not in str(r.get("metric", ""))]
    return m


def compare(before: Path, after: Path, studies=None) -> list[tuple[str, str, str]]:
    rows = []
    for model in sorted(before.glob("*/*/*/model.pt")):
        run = model.parent.relative_to(before)
        if studies and run.parts[0] not in studies:
            continue
        other = after / run
        if not (other / "model.pt").exists():
            rows.append((str(run), sha256(model)[:16], "MISSING"))
            continue
        same = (sha256(model) == sha256(other / "model.pt")
                and (model.parent / "config.json").read_bytes() == (other / "config.json").read_bytes()
                and timeless_metrics(model.parent / "metrics.json") == timeless_metrics(other / "metrics.json"))
        rows.append((str(run), sha256(model)[:16], "identical" if same else "DIFFERENT"))
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("before", type=Path)
    p.add_argument("after", type=Path)
    p.add_argument("--studies", nargs="*", default=None)
    a = p.parse_args(argv)
    rows = compare(a.before, a.after, a.studies)
    for run, digest, verdict in rows:
        print(f"{verdict:10s} {digest}  {run}")
    bad = [r for r in rows if r[2] != "identical"]
    print(f"{len(rows) - len(bad)} of {len(rows)} run directories identical (model.pt sha256, config, metrics "
          "without timings)")
    return 1 if bad or not rows else 0


if __name__ == "__main__":
    sys.exit(main())
