"""The ``convstudies`` command (also ``python -m convstudies``).

    convstudies list studies|models|datasets|evaluations
    convstudies check [--scale S] [--studies ID ...] [--configfile F ...]
                                                         plan and check the study contract, no training
    convstudies run ID [ID ...] [--scale S] [--cores N]  one or more studies through the workflow
    convstudies train ID [--entries E ...] [--scale S]  one study's runs here, with a progress bar in a terminal
    convstudies register ID [ID ...]                     pre-register studies (commit before confirmation runs)
    convstudies evaluate RUN_DIR (--idx-dir DIR | --dataset NAME) [--split S]

The workflow's rules call the remaining subcommands (prepare-data, train-entry, tables,
figures, verdict, report). Each subcommand imports what it needs when it runs, so the
analysis steps never import torch.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STEP = "workflow step (called by the rules)"


# ---------------------------------------------------------------- user commands

def cmd_list(a) -> int:
    if a.what == "studies":
        from .config import load_study, ordered_studies

        for sid in ordered_studies():
            print(f"{sid:16s} {' '.join(load_study(sid)['claim'].split())}")
        return 0
    registry = {"models": "convstudies.models:MODELS", "datasets": "convstudies.datasets:DATASETS",
                "evaluations": "convstudies.evaluations:EVALUATIONS"}[a.what]
    module, name = registry.split(":")
    import importlib

    reg = getattr(importlib.import_module(module), name)
    for n in reg.names():
        e = reg.entry(n)
        first = e.doc.strip().splitlines()[0] if e.doc.strip() else ""
        print(f"{n:22s} ({', '.join(e.params)})  {first}")
    return 0


def configfiles(args: list[str]) -> list[str]:
    """The files given to Snakemake with --configfile/--configfiles (each option takes one or more)."""
    files, taking = [], False
    for arg in args:
        if arg in ("--configfile", "--configfiles"):
            taking = True
        elif arg.startswith(("--configfile=", "--configfiles=")):
            files.append(arg.split("=", 1)[1])
            taking = False
        elif taking and not arg.startswith("-"):
            files.append(arg)
        else:
            taking = False
    return files


def cmd_check(a) -> int:
    from .config import ConfigError, read_config_file, validate_config
    from .plan import plan

    try:
        config = read_config_file(REPO / "config" / "config.yaml")
        for f in a.configfile:
            config.update(read_config_file(f))
        config.update({k: v for k, v in {"scale": a.scale, "studies": a.studies}.items() if v})
        config = validate_config(config)
        planned = plan(config)
        from .datasets.sources import unavailable

        missing = unavailable({p["config"]["data"]["dataset"] for s in planned.values() for p in s["points"].values()},
                              config["data_root"])
        if missing:
            raise ConfigError("full-scale data are missing and cannot be downloaded (offline):\n  "
                              + "\n  ".join(missing))
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for sid, p in planned.items():
        print(f"{sid:16s} {len(p['points']):3d} points x {len(p['seeds'])} seeds: ok")
    return 0


def cmd_run(a) -> int:
    from .config import ConfigError, read_config_file

    try:  # Snakemake's message for a broken config file names neither the file nor the line
        for f in configfiles(a.snakemake_args):
            read_config_file(Path(a.directory or ".") / f)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--cores", str(a.cores),
           "--config", f"studies=[{','.join(a.studies)}]", f"scale={a.scale}", *a.snakemake_args]
    print(" ".join(cmd), flush=True)
    return subprocess.call(cmd, cwd=a.directory)


def cmd_train(a) -> int:
    """Train one study's runs here, with Lightning's progress bar in a terminal; the workflow keeps them."""
    from .config import ConfigError, load_study, source_entries, expand_points

    try:
        study = load_study(a.study)
        points = expand_points(study, a.scale, a.study, phase=a.phase)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    entries = list(dict.fromkeys(p["entry"] for p in points.values()))
    unknown = sorted(set(a.entries or []) - set(entries))
    if unknown:
        print(f"error: study {a.study} has no grid entry {', '.join(unknown)}; entries: {', '.join(entries)}",
              file=sys.stderr)
        return 2
    wanted, order = set(a.entries or entries), []

    def visit(entry):  # pretraining entries first
        for src in source_entries(points, entry):
            visit(src)
        if entry not in order:
            order.append(entry)

    for e in entries:
        if e in wanted:
            visit(e)
    from .engine.jobs import run_job

    runs_dir = a.results_dir / "runs" / a.study
    for entry in order:
        job = argparse.Namespace(
            study=a.study, entry=entry, scale=a.scale, phase=a.phase, seeds=a.seeds, runs_dir=runs_dir,
            summary=runs_dir / f"{entry}.json", data=None, threads=a.threads, accelerator=a.accelerator,
            precision=a.precision, fail_run=[], jobs_per_gpu=1, gpu_locks=None, checkpoints=a.checkpoints,
            progress_bar=sys.stdout.isatty() if a.progress_bar is None else a.progress_bar)
        rc = run_job(job)
        if rc:
            return rc
    print(f"trained {a.study} ({', '.join(order)}) into {runs_dir}; `snakemake` keeps these runs and adds the "
          "tables, figures, verdict and report")
    return 0


def cmd_evaluate(a) -> int:
    try:
        from .engine.runs import check_run_dir

        check_run_dir(a.run_dir)  # before any data is read or built
        if a.idx_dir:
            if a.split == "val":
                raise ValueError("MNIST IDX files have train and test splits only")
            from .datasets.vision import read_idx

            x, y = read_idx(a.idx_dir, a.split)
            name = f"mnist_idx-{a.split}"
        else:
            from .datasets import build_dataset

            ds = build_dataset(a.dataset)
            x, y = getattr(ds, f"x_{a.split}"), getattr(ds, f"y_{a.split}")
            name = f"{a.dataset}-{a.split}"
        out = a.out or a.run_dir / "evaluations" / f"{name}.json"
        if out.exists():
            raise FileExistsError(f"{out} exists; pass another --out to keep both")
        from .engine.runs import evaluate_run

        acc = evaluate_run(a.run_dir, x, y)
    except (ValueError, FileNotFoundError, FileExistsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"run": str(a.run_dir), "data": name, "n": len(y), "accuracy": acc}, indent=1))
    print(f"{name}: accuracy {acc:.4f} on {len(y)} examples -> {out}")
    return 0


# ---------------------------------------------------------------- workflow steps

def cmd_prepare_data(a) -> int:
    from .datasets import build_dataset

    build_dataset(a.name, a.root).save(a.out)
    return 0


def cmd_train_entry(a) -> int:
    from .engine.jobs import run_job

    return run_job(a)


def cmd_tables(a) -> int:
    from .steps import tables

    tables(a.study, a.summaries, a.table, a.summary, a.examples, a.runs)
    return 0


def cmd_figures(a) -> int:
    from .steps import figures

    outs = dict(pair.split("=", 1) for pair in a.out)
    figures(a.study, a.table, a.summary, {k: Path(v) for k, v in outs.items()})
    return 0


def cmd_verdict(a) -> int:
    from .steps import verdict

    claim = verdict(a.study, a.table, a.summary, a.out, a.examples, a.runs, a.scale, a.phase, a.seeds_overridden)
    print(json.dumps(claim, indent=1))
    return 0


def cmd_register(a) -> int:
    from .config import ConfigError, load_study, study_file
    from .registration import register

    for sid in a.studies:
        try:
            study = load_study(sid)
        except ConfigError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        record = register(study, study_file(sid).parent)
        print(f"{sid}: registered {record['sha256'][:16]} on {record['registered']} -> "
              f"{study_file(sid).parent / 'registration.yaml'}; commit it before running the confirmation seeds")
    return 0


def cmd_report(a) -> int:
    from .report import report

    report(a.claims, a.out, a.scale)
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="convstudies", description="Every claim of a classic CNN lecture as a "
                                "measured, re-runnable study.", formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="Reproduce everything: snakemake (see README.md).")
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")

    s = sub.add_parser("list", help="list studies, models, datasets or evaluations")
    s.add_argument("what", choices=["studies", "models", "datasets", "evaluations"])
    s.set_defaults(fn=cmd_list)

    s = sub.add_parser("check", help="plan the studies and check their contract (no training)")
    s.add_argument("--scale", default=None, help="tiny, embedded or full (default: the config's)")
    s.add_argument("--configfile", nargs="+", default=[], metavar="FILE",
                   help="config files over config/config.yaml, as snakemake --configfile (a broken one is "
                        "named with its line)")
    s.add_argument("--studies", nargs="*", default=None, help="study ids (default: all)")
    s.set_defaults(fn=cmd_check)

    s = sub.add_parser("run", help="run studies through the workflow (training, tables, figures, verdicts, report); "
                       "arguments after -- go to snakemake")
    s.add_argument("studies", nargs="+", metavar="ID")
    s.add_argument("--scale", default="embedded", help="tiny, embedded (default) or full")
    s.add_argument("--cores", type=int, default=2)
    s.add_argument("--directory", type=Path, default=None, help="working directory (results/ goes there)")
    s.set_defaults(fn=cmd_run, snakemake_args=[])  # what follows `--` goes to snakemake (see main)

    s = sub.add_parser("train", help="train one study's runs in this process, with Lightning's progress bar in a "
                       "terminal (the workflow keeps the runs)")
    s.add_argument("study", metavar="ID")
    s.add_argument("--entries", nargs="+", default=None, metavar="ENTRY", help="grid entries (default: all)")
    s.add_argument("--scale", default="embedded", help="tiny, embedded (default) or full")
    s.add_argument("--phase", default="confirmation", choices=["confirmation", "development"])
    s.add_argument("--seeds", type=int, nargs="+", default=None, help="override the study's seeds")
    s.add_argument("--results-dir", type=Path, default=Path("results"))
    s.add_argument("--threads", type=int, default=2)
    s.add_argument("--accelerator", default="auto")
    s.add_argument("--precision", default="auto")
    s.add_argument("--checkpoints", choices=["on", "off", "study"], default="study")
    bar = s.add_mutually_exclusive_group()
    bar.add_argument("--progress-bar", dest="progress_bar", action="store_true", default=None,
                     help="Lightning's progress bar (default: when the output is a terminal)")
    bar.add_argument("--no-progress-bar", dest="progress_bar", action="store_false")
    s.set_defaults(fn=cmd_train)

    s = sub.add_parser("register", help="pre-register studies: write studies/<id>/registration.yaml (then commit "
                       "it, before any run on the confirmation seeds)")
    s.add_argument("studies", nargs="+", metavar="ID")
    s.set_defaults(fn=cmd_register)

    s = sub.add_parser("evaluate", help="evaluate a trained run on another dataset split")
    s.add_argument("run_dir", type=Path)
    src = s.add_mutually_exclusive_group(required=True)
    src.add_argument("--idx-dir", type=Path, help="directory with MNIST IDX files (plain or .gz, or MNIST/raw/)")
    src.add_argument("--dataset", help="a registered dataset name (e.g. mnist5k)")
    s.add_argument("--split", default="test", choices=["train", "val", "test"])
    s.add_argument("--out", type=Path, default=None, help="result JSON (default RUN_DIR/evaluations/<name>.json)")
    s.set_defaults(fn=cmd_evaluate)

    s = sub.add_parser("prepare-data", help=f"{STEP}: a dataset as a tensor file")
    s.add_argument("name")
    s.add_argument("out", type=Path)
    s.add_argument("--root", type=Path, default=None, help="data root of datasets read from files")
    s.set_defaults(fn=cmd_prepare_data)

    s = sub.add_parser("train-entry", help=f"{STEP}: train every run of one grid entry (or of the --seeds given)")
    s.add_argument("--study", required=True)
    s.add_argument("--entry", required=True)
    s.add_argument("--scale", default="embedded")
    s.add_argument("--seeds", type=int, nargs="*", default=None)
    s.add_argument("--phase", default="confirmation", choices=["confirmation", "development"],
                   help="which phase's overrides of the scale the runs use (the config's phase)")
    s.add_argument("--runs-dir", type=Path, required=True, help="results/runs/<study>")
    s.add_argument("--checkpoints", choices=["on", "off", "study"], default="study",
                   help="per-epoch checkpoints for every run, none, or as each run's train.checkpoint")
    s.add_argument("--summary", type=Path, required=True, help="job summary JSON, written last")
    s.add_argument("--data", type=Path, default=None, help="directory of the prepared datasets")
    s.add_argument("--accelerator", default="auto")
    s.add_argument("--precision", default="auto")
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--jobs-per-gpu", type=int, default=1, help="training jobs sharing one GPU")
    s.add_argument("--gpu-locks", type=Path, default=None, help="directory of the GPU slot lock files")
    s.add_argument("--fail-run", action="append", default=[], help="fault injection: run ids that raise")
    s.set_defaults(fn=cmd_train_entry)

    s = sub.add_parser("tables", help=f"{STEP}: a study's tidy table and summary")
    s.add_argument("--study", required=True)
    s.add_argument("--summaries", nargs="+", type=Path, required=True)
    s.add_argument("--table", type=Path, required=True)
    s.add_argument("--summary", type=Path, required=True)
    s.add_argument("--examples", type=Path, default=None, help="per-example values of the runs (.npz)")
    s.add_argument("--runs", type=Path, default=None, help="one row per run: git revision, dirty tree, code hash")
    s.set_defaults(fn=cmd_tables)

    for name, fn, helptext in (("figures", cmd_figures, "a study's figures"), ("verdict", cmd_verdict,
                                                                                "a study's claims JSON")):
        s = sub.add_parser(name, help=f"{STEP}: {helptext}")
        s.add_argument("--study", required=True)
        s.add_argument("--table", type=Path, required=True)
        s.add_argument("--summary", type=Path, required=True)
        s.set_defaults(fn=fn)
    sub.choices["figures"].add_argument("--out", nargs="+", required=True, metavar="FIGURE=PNG")
    v = sub.choices["verdict"]
    v.add_argument("--out", type=Path, required=True)
    v.add_argument("--examples", type=Path, default=None, help="per-example values (from tables)")
    v.add_argument("--runs", type=Path, default=None, help="the runs' provenance table (from tables)")
    v.add_argument("--scale", default="embedded")
    v.add_argument("--phase", default="confirmation", choices=["confirmation", "development"])
    v.add_argument("--seeds-overridden", action="store_true", help="the run's seeds came from --config seeds")

    s = sub.add_parser("report", help=f"{STEP}: REPORT.md")
    s.add_argument("--claims", nargs="+", type=Path, required=True)
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--scale", default="embedded")
    s.set_defaults(fn=cmd_report)
    return p


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = []
    if argv[:1] == ["run"] and "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    a = parser().parse_args(argv)
    if a.cmd == "run":
        a.snakemake_args = extra
    return a.fn(a)


def evaluate_main(argv=None) -> int:
    """``convstudies-evaluate``: the same as ``convstudies evaluate``."""
    return main(["evaluate", *(sys.argv[1:] if argv is None else argv)])
