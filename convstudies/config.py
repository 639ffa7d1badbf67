"""Study files: load, validate, and expand into grid points and runs.

Imported by the Snakefile at parse time, so it stays light (yaml + jsonschema).
A study is a directory ``studies/<id>/`` whose ``study.yaml`` this module reads.
"""
from __future__ import annotations

import copy
import difflib
import hashlib
import itertools
import json
import os
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "workflow" / "schemas"
# Where study files (study.yaml, analysis.py, figures.py, registration.yaml) are read from.
# $CONVSTUDIES_STUDIES_DIR points at a copy (tests/test_edit_reruns.py edits one to show which
# jobs an edit reruns); the study code that runs is still imported from the package
# (convstudies.studies.<id>), so the variable is for testing what a workflow plans, not for
# running other study code.
STUDIES_DIR = Path(os.environ.get("CONVSTUDIES_STUDIES_DIR") or ROOT / "studies")


class ConfigError(ValueError):
    """A config or study file is invalid; the message names the file, the key and what is allowed."""


def schema(name: str) -> dict:
    return yaml.safe_load((SCHEMAS / f"{name}.schema.yaml").read_text())


def _where(path) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def _explain(err: jsonschema.ValidationError) -> str:
    msg = err.message
    if err.validator == "additionalProperties" and isinstance(err.schema.get("properties"), dict):
        allowed = sorted(err.schema["properties"])
        extra = [k for k in err.instance if k not in allowed] if isinstance(err.instance, dict) else []
        close = sorted({c for k in extra for c in difflib.get_close_matches(k, allowed, n=1)})
        hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
        msg += f"{hint}; allowed keys: {', '.join(allowed)}"
    elif err.validator == "oneOf" and err.context:
        msg += "; " + "; or ".join(sorted({c.message for c in err.context}))
    return msg


def validate(instance, schema: dict, source: str) -> None:
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"  {_where(e.absolute_path)}: {_explain(e)}" for e in errors]
        raise ConfigError(f"{source} is invalid:\n" + "\n".join(lines))


def refuse_bad_config(config: dict) -> None:
    """Stop the workflow with one readable message when the config is invalid (no traceback)."""
    import sys

    coerce_command_line(config)  # in place: Snakemake's own validation follows
    try:
        validate_config(copy.deepcopy(config))
    except ConfigError as e:
        sys.stderr.write(f"convstudies: the workflow's config is invalid; nothing was run.\n{e}\n")
        raise SystemExit(2) from None


def _types(spec: dict) -> list:
    t = spec.get("type", [])
    return t if isinstance(t, list) else [t]


def coerce_command_line(config: dict) -> dict:
    """Values as ``snakemake --config`` delivers them (strings) turned into what they mean, in place."""
    if isinstance(config.get("studies"), str) and config["studies"] != "all":
        config["studies"] = [config["studies"]]  # --config studies=lenet5: one study
    if isinstance(config.get("seeds"), list):  # --config seeds='[3,4,5]' arrives as strings
        config["seeds"] = [int(s) if isinstance(s, str) and s.strip().isdigit() else s for s in config["seeds"]]
    words = {"true": True, "false": False, "null": None}
    for key, spec in schema("config")["properties"].items():  # --config checkpoints=true arrives as a string
        if "boolean" in _types(spec) and isinstance(config.get(key), str) and config[key].lower() in words:
            config[key] = words[config[key].lower()]
    return config


def read_config_file(path) -> dict:
    """A workflow config file (YAML or JSON) as a dict; a broken one is a ConfigError naming the
    file, the line and column, and what is wrong there (Snakemake's own message names neither)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = " ".join(str(getattr(e, "problem", None) or e).split())
        raise ConfigError(f"config file {path}{where}: not valid YAML ({problem})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: must be a mapping of keys (scale: ..., studies: ...), "
                          f"not a {type(data).__name__}")
    return data


def checkpoint_mode(config: dict) -> str:
    """The training jobs' ``--checkpoints``: "on" or "off" for every run, or "study" (each run's
    train.checkpoint); the config's null means on at the full scale."""
    wanted = config["checkpoints"] if config["checkpoints"] is not None else (config["scale"] == "full" or None)
    return {True: "on", False: "off"}.get(wanted, "study")


def validate_config(config: dict, studies_dir: Path = STUDIES_DIR) -> dict:
    """Validate the workflow config, fill defaults, and check the study ids exist."""
    config_schema = schema("config")
    coerce_command_line(config)
    validate(config, config_schema, "config")
    for key, spec in config_schema["properties"].items():
        config.setdefault(key, copy.deepcopy(spec.get("default")))
    available = ordered_studies(studies_dir)
    if config["studies"] == "all":
        config["studies"] = available
    for i, sid in enumerate(config["studies"]):
        if sid not in available:
            close = difflib.get_close_matches(sid, available, n=2)
            hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
            raise ConfigError(f"config is invalid:\n  studies[{i}]: unknown study {sid!r}{hint} available: "
                              f"{', '.join(available)}")
    return config


# The lecture's order; studies not listed here follow alphabetically.
STUDY_ORDER = ["translation", "mlp_depth", "conv_hparams", "pooling", "weight_sharing", "lenet5",
               "residual", "transfer", "conv1d"]


def study_file(study_id: str, studies_dir: Path = STUDIES_DIR) -> Path:
    return Path(studies_dir) / study_id / "study.yaml"


def ordered_studies(studies_dir: Path = STUDIES_DIR) -> list[str]:
    found = {p.parent.name for p in Path(studies_dir).glob("*/study.yaml")}
    return [s for s in STUDY_ORDER if s in found] + sorted(found - set(STUDY_ORDER))


def deep_merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in override.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def set_dotted(cfg: dict, dotted: str, value) -> None:
    *parents, leaf = dotted.split(".")
    for p in parents:
        cfg = cfg.setdefault(p, {})
    cfg[leaf] = value


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def load_study(study_id: str, studies_dir: Path = STUDIES_DIR) -> dict:
    path = study_file(study_id, studies_dir)
    if not path.exists():
        raise ConfigError(f"no study file {path}")
    study = yaml.safe_load(path.read_text())
    validate(study, schema("study"), str(path))
    if study["study"] != study_id:
        raise ConfigError(f"{path} is invalid:\n  study: {study['study']!r} must equal the file name {study_id!r}")
    return study


def run_defaults() -> dict:
    """The run configuration with every schema default filled in."""
    props = schema("study")["$defs"]["run"]["properties"]
    out = {k: {n: copy.deepcopy(s["default"]) for n, s in props[k]["properties"].items() if "default" in s}
           for k in ("data", "train")}
    out["evaluations"] = copy.deepcopy(props["evaluations"]["default"])
    return out


def expand_points(study: dict, scale: str, source: str = "study", phase: str = "confirmation") -> dict[str, dict]:
    """Grid point id -> {config, labels, entry} for one scale and phase, each config fully resolved and validated.

    The scale's ``phase`` overrides for ``phase`` apply after the scale's own (e.g. confirmation runs
    train on the training and validation splits together, development runs hold validation out).
    """
    if scale not in study["scales"]:
        raise ConfigError(f"{source}: scale {scale!r} is not defined; defined: {', '.join(study['scales'])}")
    if phase not in ("development", "confirmation"):
        raise ConfigError(f"{source}: phase {phase!r} is not one of development, confirmation")
    scale_over = {k: v for k, v in study["scales"][scale].items() if k not in ("seeds", "phase")}
    scale_over = deep_merge(scale_over, study["scales"][scale].get("phase", {}).get(phase, {}))
    base = deep_merge(run_defaults(), study["defaults"])
    run_schema = schema("study")["$defs"]["run"]
    points: dict[str, dict] = {}
    for gi, entry in enumerate(study["grid"]):
        if "scales" in entry and scale not in entry["scales"]:  # an entry of other scales only
            continue
        vary = {k: (v.get(scale) if isinstance(v, dict) else v) for k, v in entry.get("vary", {}).items()}
        vary = {k: v for k, v in vary.items() if v is not None}
        combos = [dict(zip(vary, vals)) for vals in itertools.product(*vary.values())] if vary else [{}]
        for combo in combos:
            # scale overrides (sizes, epochs) apply after the entry's settings, vary after both
            cfg = deep_merge(deep_merge(base, entry.get("set", {})), scale_over)
            for k, v in combo.items():
                set_dotted(cfg, k, v)
            pid = entry["id"] + "".join(f"-{k.split('.')[-1]}{_fmt(v)}" for k, v in combo.items())
            if pid in points:
                raise ConfigError(f"{source}: grid[{gi}] gives point id {pid!r} twice")
            validate(cfg, run_schema, f"{source} grid[{gi}] (point {pid!r}, scale {scale!r})")
            labels = {**entry.get("labels", {}), **{k.split(".")[-1]: v for k, v in combo.items()}}
            points[pid] = {"config": cfg, "labels": labels, "entry": entry["id"]}
    return points


def check_init_from(points: dict[str, dict], source: str) -> None:
    """``train.init_from`` names a point of the same study in another grid entry."""
    for pid, p in points.items():
        src = p["config"]["train"].get("init_from")
        if src is None:
            continue
        if src not in points:
            raise ConfigError(f"{source} point {pid!r}: train.init_from: unknown point {src!r}; "
                              f"points: {', '.join(points)}")
        if points[src]["entry"] == p["entry"]:
            raise ConfigError(f"{source} point {pid!r}: train.init_from: {src!r} is in the same grid entry; "
                              "pretraining must be a grid entry of its own")


def source_entries(points: dict[str, dict], entry: str) -> list[str]:
    """Grid entries whose runs an entry's runs start from (train.init_from)."""
    srcs = {points[p["config"]["train"]["init_from"]]["entry"] for p in points.values()
            if p["entry"] == entry and p["config"]["train"].get("init_from")}
    return sorted(srcs)


def run_entry(run: str, planned: dict) -> tuple[str, str] | None:
    """(study, grid entry) of a run id "<study>/<point>/seed<N>" in a plan, or None."""
    study, point, *_ = run.split("/") + ["", ""]
    p = planned.get(study, {}).get("points", {}).get(point)
    return (study, p["entry"]) if p else None


def seeds_for(study: dict, scale: str, phase: str = "confirmation", override: list[int] | None = None) -> list[int]:
    """The seeds to run: the override if given, else the study's seeds of the scale and phase."""
    return list(override) if override else list(study["scales"][scale]["seeds"][phase])


def config_hash(cfg: dict) -> str:
    return hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:8]


def run_id(point: str, seed: int, cfg: dict, execution: dict | None = None) -> str:
    """Directory name of one run: the hash of its configuration and of how it executes (the
    code it runs, the execution path, device and precision; see convstudies.codekey), so runs
    of a changed configuration or changed code are kept apart and trained anew."""
    return f"seed{seed}-{config_hash({**cfg, 'execution': execution} if execution else cfg)}"
