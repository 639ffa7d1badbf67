"""Train every run of one grid entry in one process (``python -m convstudies train-entry``).

A job covers a grid entry (all its points and seeds, or the seeds given: the workflow's
``train_jobs: seed`` makes a job per seed), so the torch/Lightning import is paid once for all
of them. Finished runs (a complete run directory) are skipped, never
retrained or overwritten, so a job restarted after an interruption trains only what is
missing. A damaged run directory (a file of it does not read, :func:`..train.run_damage`) is
named in the job log, moved aside to ``<run>.damaged-<UTC time>`` (never deleted) and
trained again. The job summary, written last, lists every run directory of the job.
"""
from __future__ import annotations

import json
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

from ..config import expand_points, load_study, run_id, seeds_for


def entry_runs(study_id: str, entry: str, scale: str, seeds=None, studies_dir=None,
               device: str = "cpu", precision: str = "32-true", phase: str = "confirmation") -> list[dict]:
    """Every run of a grid entry as the workflow plans it: point, labels, run id, config, execution.

    ``phase`` picks the scale's phase overrides (and, without ``seeds``, the phase's seeds).

    The run id hashes the configuration and the execution: the code the run executes
    (:func:`convstudies.codekey.code_hash`), the execution path, the device type and the precision.
    """
    from ..codekey import code_hash

    kw = {"studies_dir": studies_dir} if studies_dir else {}
    study = load_study(study_id, **kw)
    all_points = expand_points(study, scale, study_id, phase)
    points = {k: v for k, v in all_points.items() if v["entry"] == entry}
    if not points:
        raise SystemExit(f"study {study_id!r} has no grid entry {entry!r}")

    def execution(cfg):
        return {"code": code_hash(cfg), "path": "separate", "device": device, "precision": precision}

    runs = []
    for pid, p in points.items():
        for seed in (seeds if seeds is not None else seeds_for(study, scale, phase)):
            cfg = {**p["config"], "seed": seed}
            ex = execution(cfg)
            run = {"point": pid, "labels": p["labels"], "run": run_id(pid, seed, cfg, ex), "config": cfg,
                   "execution": ex}
            src = cfg["train"].get("init_from")
            if src:
                src_cfg = {**all_points[src]["config"], "seed": seed}
                run["init_run"] = f"{src}/{run_id(src, seed, src_cfg, execution(src_cfg))}"
            runs.append(run)
    return runs


def run_job(a) -> int:
    """Train an entry's runs (``a``: the parsed ``train-entry`` arguments), on the job's GPU slot if any."""
    import torch

    torch.set_num_threads(a.threads)
    if a.accelerator != "cpu" and torch.cuda.is_available():
        from .gpu_slots import device_ids, gpu_slot

        locks = a.gpu_locks or a.runs_dir.parent / ".gpu_slots"
        with gpu_slot(locks, device_ids(), a.jobs_per_gpu) as device:
            torch.cuda.set_device(device)
            return train_entry(a)
    return train_entry(a)


def set_aside(run_dir: Path) -> Path:
    """Rename a damaged run directory to ``<run>.damaged-<UTC time>`` beside it; returns the new path."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    aside = run_dir.with_name(f"{run_dir.name}.damaged-{stamp}")
    n = 1
    while aside.exists():  # two in the same second
        n += 1
        aside = run_dir.with_name(f"{run_dir.name}.damaged-{stamp}-{n}")
    run_dir.rename(aside)
    return aside


def train_entry(a) -> int:
    from .train import describe_device, resolve_device, resolve_precision, run_damage, train

    device = resolve_device(a.accelerator)
    precision = resolve_precision(a.precision, device)
    print(f"[convstudies] {a.study}/{a.entry}: training on {describe_device(device)}, precision {precision}",
          flush=True)
    t0, failed, records = time.time(), [], []
    for r in entry_runs(a.study, a.entry, a.scale, a.seeds, device=device.type, precision=precision,
                        phase=getattr(a, "phase", "confirmation")):
        run_dir = a.runs_dir / r["point"] / r["run"]
        full_id = f"{a.study}/{r['point']}/seed{r['config']['seed']}"
        damage = run_damage(run_dir) if run_dir.exists() else None
        if damage:
            aside = set_aside(run_dir)
            print(f"[convstudies] {full_id}: damaged run, {damage}; moved aside to {aside}, training it again",
                  flush=True)
        if run_dir.exists():
            print(f"[convstudies] {full_id}: finished earlier, kept ({run_dir})", flush=True)
        else:
            try:
                if full_id in a.fail_run:
                    raise RuntimeError(f"injected failure for {full_id} (config fail_runs)")
                data = a.data / f"{r['config']['data']['dataset']}.pt" if a.data else None
                init = a.runs_dir / r["init_run"] / "model.pt" if r.get("init_run") else None
                m = train(r["config"], run_dir=run_dir, data_path=data, accelerator=a.accelerator,
                          precision=precision, init_weights=init, execution=r["execution"], progress=full_id,
                          checkpoint_dir=a.runs_dir / ".checkpoints" / r["point"] / r["run"],
                          checkpoint={"on": True, "off": False}.get(getattr(a, "checkpoints", "study")),
                          progress_bar=getattr(a, "progress_bar", False))
                print(f"[convstudies] {full_id}: {m['status']} in {m['wall_seconds']:.1f}s", flush=True)
            except Exception:  # noqa: BLE001 - finish the other runs, then fail the job
                traceback.print_exc()
                failed.append(full_id)
                continue
        records.append({"point": r["point"], "labels": r["labels"], "run": r["run"],
                        "seed": r["config"]["seed"], "dir": str(run_dir)})
    if failed:
        print(f"[convstudies] failed runs: {', '.join(failed)}; finished runs are kept", file=sys.stderr)
        return 1
    a.summary.parent.mkdir(parents=True, exist_ok=True)
    tmp = a.summary.with_suffix(".tmp")
    tmp.write_text(json.dumps({"study": a.study, "entry": a.entry, "runs": records,
                               "job_seconds": time.time() - t0}, indent=1))
    tmp.replace(a.summary)
    return 0

