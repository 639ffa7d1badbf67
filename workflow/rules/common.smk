# Plans the workflow from the config and the study files; bad input stops it here,
# before any job starts, with a message naming the file, the key and what is allowed.
# Nothing imported here imports torch: planning stays fast on every start and SLURM job.
import shlex

from convstudies.config import ConfigError, run_entry, source_entries, study_file, validate_config
from convstudies.datasets.sources import unavailable
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
    """Hash of an entry's resolved configs and of the code its runs execute: a train job is
    redone when either changes (Snakemake's params trigger); finished runs it still finds are kept."""
    return entry_code_key(PLAN[wildcards.study], wildcards.entry)


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
