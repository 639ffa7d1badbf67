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

# A job summary lists finished runs. One listed run damaged since (a truncated metrics.json, a run
# file gone) would stop the tables step, and Snakemake deletes a failed step's previous tables. So
# the train job runs again first: it moves the damaged run aside and retrains it. The trigger is a
# line appended to <entry>.damaged beside the summary, whose hash is part of the job's `key` param
# (Snakemake's params trigger; deleting the summary instead would not do: Snakemake does not remake
# a missing file whose consumers are up to date). Cheap (convstudies.tables.run_damage, deep=False):
# os.stat of each run file, a JSON parse of metrics.json and provenance.json and a look at the
# per_example.npz directory per listed run, ~0.1 s for 300 runs; in the main process only, not in
# each cluster job's re-parse.
def damage_record(study, entry):
    return Path(config["results_dir"]) / "runs" / study / f"{entry}.damaged"


def damage_record_key(study, entry):
    """'' without a damage record, else a hash of it (changes with every damage found)."""
    record = damage_record(study, entry)
    return hashlib.sha256(record.read_bytes()).hexdigest()[:12] if record.exists() else ""


if workflow.is_main_process:
    for _study, _s in PLAN.items():
        for _entry in dict.fromkeys(p["entry"] for p in _s["points"].values()):
            _summary = Path(config["results_dir"]) / "runs" / _study / f"{_entry}.json"
            _damage = summary_damage(_summary) if _summary.exists() else []
            if _damage:
                with damage_record(_study, _entry).open("a") as _f:
                    _f.writelines(f"{datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ} {d}\n" for d in _damage)
                print(f"[convstudies] damaged run listed in {_summary}: {'; '.join(_damage)}. Its train job runs "
                      f"again: the damaged run is moved aside and retrained (recorded in "
                      f"{damage_record(_study, _entry)}).", file=sys.stderr)

RES = config["results_dir"]
# One environment for every rule (used with --sdm conda); pip pins live in pyproject.toml.
ENV = "../../environment.yml"


wildcard_constraints:
    study="[a-z0-9_]+",
    entry="[a-z0-9_]+",
    dataset="[a-z0-9_]+",


def entries(study):
    return list(dict.fromkeys(p["entry"] for p in PLAN[study]["points"].values()))


def entry_inputs(wildcards):
    """The prepared datasets of an entry's runs, and the runs they start from (train.init_from)."""
    points = PLAN[wildcards.study]["points"]
    names = {p["config"]["data"]["dataset"] for p in points.values() if p["entry"] == wildcards.entry}
    sources = source_entries(points, wildcards.entry)
    return [f"{RES}/data/{n}.pt" for n in sorted(names)] + [
        f"{RES}/runs/{wildcards.study}/{e}.json" for e in sources]


def entry_summaries(wildcards):
    return [f"{RES}/runs/{wildcards.study}/{e}.json" for e in entries(wildcards.study)]


def study_sources(*files):
    """Input function: files of the study directory (edits to them redo the step)."""

    def inputs(wildcards):
        folder = study_file(wildcards.study).parent
        return [str(folder / f) for f in files if (folder / f).exists()]

    return inputs


def entry_key(wildcards):
    """Hash of an entry's resolved configs and of the code its runs execute (and of its damage record):
    a train job is redone when one changes (Snakemake's params trigger); finished runs it still finds are kept."""
    return entry_code_key(PLAN[wildcards.study], wildcards.entry) + damage_record_key(wildcards.study, wildcards.entry)


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
