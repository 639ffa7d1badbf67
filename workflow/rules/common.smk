# Plans the workflow from the config and the study files; bad input stops it here,
# before any job starts, with a message naming the file, the key and what is allowed.
# Nothing imported here imports torch: planning stays fast on every start and SLURM job.
import hashlib
import shlex
import sys
from datetime import datetime, timezone
from pathlib import Path

from convstudies.config import ConfigError, checkpoint_mode, run_entry, source_entries, study_file, validate_config
from convstudies.datasets.sources import missing_weights, unavailable
from convstudies.tables import summary_damage
from convstudies.plan import entry_code_key, plan

try:
    validate_config(config)
    PLAN = plan(config)
except ConfigError as e:
    raise WorkflowError(f"\n{e}") from None

# Full-scale data: offline with a file missing, stop now with one line per missing file.
_missing = unavailable(
    {p["config"]["data"]["dataset"] for s in PLAN.values() for p in s["points"].values()},
    config["data_root"],
)
if _missing:
    raise WorkflowError(
        "full-scale data are missing and cannot be downloaded (offline):\n  " + "\n  ".join(_missing)
    )

# Pretrained weights (timm_resnet pretrained: true): offline and not in the hub cache, stop now too.
_missing_weights = missing_weights(p["config"]["model"] for s in PLAN.values() for p in s["points"].values())
if _missing_weights:
    raise WorkflowError(
        "pretrained weights are missing and cannot be downloaded (offline):\n  " + "\n  ".join(_missing_weights)
    )

RES = config["results_dir"]
# A training job trains a grid entry (every point and seed), or one seed of it (config train_jobs);
# its summary runs/<study>/<TRAIN_JOB>.json and its log are named after it.
TRAIN_JOB = "{entry}.seed{seed}" if config["train_jobs"] == "seed" else "{entry}"


def entries(study):
    return list(dict.fromkeys(p["entry"] for p in PLAN[study]["points"].values()))


def seed_jobs(study):
    """One item per training job of a grid entry: its seed, or None for a single job of every seed."""
    return PLAN[study]["seeds"] if config["train_jobs"] == "seed" else [None]


def job_seed(wildcards):
    """A training job's seed, None for a job of every seed."""
    return getattr(wildcards, "seed", None)


def job_summary(study, entry, seed=None):
    """What a training job writes last: the list of its runs."""
    return f"{RES}/runs/{study}/{TRAIN_JOB.format(entry=entry, seed=seed)}.json"


# A job summary lists finished runs. One listed run damaged since (a truncated metrics.json, a run
# file gone) would stop the tables step, and Snakemake deletes a failed step's previous tables. So
# the train job runs again first: it moves the damaged run aside and retrains it. The trigger is a
# line appended to <job>.damaged beside the summary, whose hash is part of the job's `key` param
# (Snakemake's params trigger; deleting the summary instead would not do: Snakemake does not remake
# a missing file whose consumers are up to date). Cheap (convstudies.tables.run_damage, deep=False):
# os.stat of each run file, a JSON parse of metrics.json and provenance.json and a look at the
# per_example.npz directory per listed run, ~0.1 s for 300 runs; in the main process only, not in
# each cluster job's re-parse.
def damage_record(summary):
    return Path(summary).with_suffix(".damaged")


def damage_record_key(summary):
    """'' without a damage record, else a hash of it (changes with every damage found)."""
    record = damage_record(summary)
    return hashlib.sha256(record.read_bytes()).hexdigest()[:12] if record.exists() else ""


if workflow.is_main_process:
    for _study in PLAN:
        for _entry in entries(_study):
            for _seed in seed_jobs(_study):
                _summary = Path(job_summary(_study, _entry, _seed))
                _damage = summary_damage(_summary) if _summary.exists() else []
                if _damage:
                    with damage_record(_summary).open("a") as _f:
                        _f.writelines(f"{datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ} {d}\n" for d in _damage)
                    print(f"[convstudies] damaged run listed in {_summary}: {'; '.join(_damage)}. Its train job "
                          f"runs again: the damaged run is moved aside and retrained (recorded in "
                          f"{damage_record(_summary)}).", file=sys.stderr)

# One environment for every rule (used with --sdm conda); pip pins live in pyproject.toml.
ENV = "../../environment.yml"


wildcard_constraints:
    study="[a-z0-9_]+",
    entry="[a-z0-9_]+",
    dataset="[a-z0-9_]+",
    seed="[0-9]+",


def entry_inputs(wildcards):
    """The prepared datasets of an entry's runs, and the runs they start from (train.init_from)."""
    points = PLAN[wildcards.study]["points"]
    names = {p["config"]["data"]["dataset"] for p in points.values() if p["entry"] == wildcards.entry}
    sources = source_entries(points, wildcards.entry)
    return [f"{RES}/data/{n}.pt" for n in sorted(names)] + [  # a job per seed: the same seed's source runs
        job_summary(wildcards.study, e, job_seed(wildcards)) for e in sources]


def entry_summaries(wildcards):
    """Every training job's summary of a study."""
    s = wildcards.study
    return [job_summary(s, e, seed) for e in entries(s) for seed in seed_jobs(s)]


def study_sources(*files):
    """Input function: files of the study directory (edits to them redo the step)."""

    def inputs(wildcards):
        folder = study_file(wildcards.study).parent
        return [str(folder / f) for f in files if (folder / f).exists()]

    return inputs


def entry_key(wildcards):
    """Hash of the job's resolved configs, seeds and the code its runs execute (and of its damage record):
    a train job is redone when one changes (Snakemake's params trigger); finished runs it still finds are kept."""
    seed = job_seed(wildcards)
    return entry_code_key(PLAN[wildcards.study], wildcards.entry, None if seed is None else [int(seed)]) + \
        damage_record_key(job_summary(wildcards.study, wildcards.entry, seed))


def seeds_arg(wildcards):
    """The seeds a training job trains, for its command line."""
    seed = job_seed(wildcards)
    return seed if seed is not None else " ".join(map(str, PLAN[wildcards.study]["seeds"]))


def fail_runs_arg(wildcards):
    """--fail-run options for the config's fail_runs that this training job trains (fault injection)."""
    seed = job_seed(wildcards)
    return " ".join(f"--fail-run {r}" for r in config["fail_runs"]
                    if run_entry(r, PLAN) == (wildcards.study, wildcards.entry)
                    and (seed is None or Path(r).name == f"seed{seed}"))  # r: <study>/<point>/seed<N>


def figures(study):
    return list(PLAN[study]["study"].get("figures", {}))


def figure_captions(wildcards):
    return {f: " ".join(c.split()) for f, c in PLAN[wildcards.study]["study"].get("figures", {}).items()}


def figure_outs(wildcards, output):
    """FIGURE=PATH pairs for the figures step, quoted for the shell."""
    return " ".join(shlex.quote(f"{f}={output[0]}/{f}.png") for f in figures(wildcards.study))


def all_outputs():
    out = [f"{RES}/REPORT.md"]
    for s in PLAN:
        out += [f"{RES}/tables/{s}.csv", f"{RES}/claims/{s}.json"]
        if figures(s):
            out.append(f"{RES}/figures/{s}")
    return out
