"""The README's Quick start is what CI runs; every command the documentation shows parses.

Commands are read from the ```bash blocks of README.md, docs/*.md and config/README.md (comments
dropped, ``&&`` chains split) and from inline code spans that start with ``snakemake `` or
``convstudies `` (or with a Snakemake option such as ``--config k=v``). The fast tests parse
each with Snakemake's and convstudies' own argument parsers, validate every ``--config`` /
``--configfile`` against the workflow's config schema and check that named files exist. The slow
ones run the commands of the bash blocks: Snakemake with ``-n`` in a temporary working
directory, ``convstudies`` as it is when cheap and as a dry run when it would train.
"""
import copy
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "config" / "README.md"]
# Placeholders of inline synopses and what a check puts in their place (None: drop the token).
PLACEHOLDERS = {"ID": "lenet5", "...": None, "ARGS": "-n"}
PLACEHOLDER_FILES = {"my.yaml"}  # "your own config file": not in the repository


def quick_start_commands():
    text = (REPO / "README.md").read_text()
    block = re.search(r"## Quick start.*?```bash\n(.*?)```", text, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def test_quick_start_has_exactly_two_commands_and_ci_runs_the_test_one():
    reproduce, test = quick_start_commands()
    assert "snakemake" in reproduce and "pip install" in reproduce
    assert "pytest" in test and "pip install" in test
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert test in ci


def test_every_config_key_is_documented():
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    doc = (REPO / "config" / "README.md").read_text()
    for key, spec in schema["properties"].items():
        assert f"`{key}`" in doc
        assert spec.get("description") and "default" in spec


# ---------------------------------------------------------------- extraction


def _split_chain(tokens: list[str]) -> list[list[str]]:
    out = [[]]
    for t in tokens:
        if t in ("&&", "||", ";"):
            out.append([])
        else:
            out[-1].append(t)
    return [c for c in out if c]


def block_commands() -> list[tuple[str, list[str]]]:
    """(where, argv) of every command line in the docs' ```bash blocks."""
    out = []
    for doc in DOCS:
        for block in re.findall(r"```bash\n(.*?)```", doc.read_text(), re.S):
            for line in block.splitlines():
                for argv in _split_chain(shlex.split(line, comments=True)):
                    out.append((doc.relative_to(REPO).as_posix(), argv))
    return out


def inline_commands() -> list[tuple[str, list[str]]]:
    """(where, argv) of inline code spans that are commands (placeholders filled in)."""
    out = []
    for doc in DOCS:
        for span in re.findall(r"`([^`\n]+)`", doc.read_text()):
            if re.match(r"--[a-z][a-z-]* \S", span):  # a Snakemake option with its value: `--config k=v`
                span = f"snakemake {span}"
            if not re.match(r"(snakemake|convstudies) \S", span):
                continue
            argv = []
            for t in shlex.split(span):
                t = PLACEHOLDERS.get(t, t)
                if t is not None:
                    argv.append(t)
            out.append((doc.relative_to(REPO).as_posix(), argv))
    return out


def commands(program: str, inline: bool = True) -> list[tuple[str, list[str]]]:
    found = block_commands() + (inline_commands() if inline else [])
    return list({shlex.join(argv): (where, argv) for where, argv in found if argv[0] == program}.values())


def ids(cmds):
    return [shlex.join(argv) for _, argv in cmds]


def repo_path(arg: str) -> Path:
    """A documented path: REPO/x is the repository's x, a relative one is relative to its root."""
    return REPO / (arg[len("REPO/"):] if arg.startswith("REPO/") else arg)


def test_the_docs_show_the_commands_this_test_checks():
    snakemake, convstudies = ids(commands("snakemake", inline=False)), ids(commands("convstudies", inline=False))
    assert "snakemake" in snakemake and "snakemake --workflow-profile profiles/slurm" in snakemake
    assert any("config/full.yaml" in c for c in snakemake)
    assert {"convstudies --help", "convstudies list studies"} <= set(convstudies)
    assert any(c.startswith("convstudies evaluate") for c in convstudies)
    assert len(commands("snakemake")) > len(snakemake)  # inline ones too


# ---------------------------------------------------------------- fast: argument parsers, configs, files


def snakemake_args(argv: list[str]):
    from snakemake.cli import get_argument_parser

    try:
        return get_argument_parser().parse_args(argv[1:])
    except SystemExit as e:
        pytest.fail(f"snakemake rejects the arguments of {shlex.join(argv)!r} (exit {e.code})")


def resolved_config(args) -> dict | None:
    """The config a snakemake command runs with: config.yaml, its --configfile(s), its --config."""
    from snakemake.cli import parse_config
    from snakemake.utils import update_config

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    for f in args.configfile or []:
        if str(f) in PLACEHOLDER_FILES:
            return None
        path = repo_path(str(f))
        assert path.is_file(), f"--configfile {f}: no such file in the repository"
        update_config(config, yaml.safe_load(path.read_text()))
    update_config(config, parse_config(args.config or []))
    return config


@pytest.mark.parametrize("where,argv", commands("snakemake"), ids=ids(commands("snakemake")))
def test_every_documented_snakemake_command_parses_and_its_config_is_valid(where, argv):
    from convstudies.config import ConfigError, validate_config

    args = snakemake_args(argv)
    config = resolved_config(args)
    if config is not None:
        try:
            validate_config(copy.deepcopy(config))
        except ConfigError as e:
            pytest.fail(f"{where}: {shlex.join(argv)}: {e}")
    for profile in filter(None, [args.workflow_profile, *(args.profile or [])]):
        assert (repo_path(str(profile)) / "config.yaml").is_file(), f"{where}: no profile {profile}"
    if args.snakefile:
        assert repo_path(str(args.snakefile)).is_file(), f"{where}: no Snakefile {args.snakefile}"


def convstudies_args(argv: list[str]):
    """Parse as ``convstudies`` does (``run ... -- ARGS`` hands ARGS to Snakemake)."""
    from convstudies.cli import parser

    argv = argv[1:]
    if argv[:1] == ["run"] and "--" in argv:
        argv = argv[:argv.index("--")]
    try:
        return parser().parse_args(argv)
    except SystemExit as e:
        if e.code == 0 and "--help" in argv:
            return None
        pytest.fail(f"convstudies rejects the arguments of {shlex.join(argv)!r} (exit {e.code})")


@pytest.mark.parametrize("where,argv", commands("convstudies"), ids=ids(commands("convstudies")))
def test_every_documented_convstudies_command_parses(where, argv, capsys):  # capsys: --help prints
    convstudies_args(argv)


def test_files_the_bash_blocks_name_exist():
    for where, argv in block_commands():
        for arg in argv[1:]:
            if re.fullmatch(r"[\w.][\w./-]*\.(py|sh|yaml|toml)", arg):
                assert repo_path(arg).is_file(), f"{where}: {shlex.join(argv)}: no file {arg}"


# ---------------------------------------------------------------- slow: run them


OFFLINE_STOP = "full-scale data are missing and cannot be downloaded (offline)"


def _run(argv, cwd, timeout=300) -> tuple[int, str]:
    env = {**os.environ, "CONVSTUDIES_OFFLINE": "1"}
    out = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return out.returncode, out.stdout + out.stderr


@pytest.mark.slow
@pytest.mark.parametrize("where,argv", commands("snakemake", inline=False), ids=ids(commands("snakemake", False)))
def test_every_snakemake_command_of_the_bash_blocks_dry_runs(where, argv, tmp_path):
    """As documented, from the repository root, with ``-n`` into an empty working directory.

    A SLURM profile needs no cluster for a dry run. The full scale has no data here: offline it
    must stop with the documented message naming each missing file, which means it parsed. A
    report needs results: in an empty directory it stops on the first missing one."""
    cmd = [sys.executable, "-m", "snakemake", *argv[1:], "-n"]
    if "-s" not in argv and "--snakefile" not in argv:
        cmd += ["-s", str(REPO / "Snakefile")]
    cmd += ["-d", str(tmp_path)]
    rc, text = _run(cmd, cwd=REPO)
    tail = f"{where}: {shlex.join(argv)}\n{text[-3000:]}"
    if "config/full.yaml" in argv:
        assert rc != 0 and OFFLINE_STOP in text and "missing; expected at" in text, tail
    elif "--report" in argv:
        assert rc != 0 and "marked for report but does not exist" in text, tail
    elif "--lint" in argv:
        assert rc == 0, tail
    else:
        assert rc == 0 and "This was a dry-run" in text, tail
    assert "Traceback" not in text, tail


@pytest.mark.slow
@pytest.mark.parametrize("where,argv", commands("convstudies", inline=False),
                         ids=ids(commands("convstudies", False)))
def test_every_convstudies_command_of_the_bash_blocks_runs(where, argv, tmp_path):
    """Cheap ones as they are (in an empty directory); ``run`` as a dry run; ``evaluate`` of a
    run that is not there must name it (its arguments were accepted)."""
    cmd = list(argv)
    if not shutil.which("convstudies"):  # the console script of `pip install -e .`; else the same module
        cmd[:1] = [sys.executable, "-m", "convstudies"]
    if argv[1] == "run":
        cmd += ["--directory", str(tmp_path), "--", "-n"]
    rc, text = _run(cmd, cwd=REPO if any(a.startswith("config/") for a in argv) else tmp_path)
    tail = f"{where}: {shlex.join(argv)}\n{text[-3000:]}"
    if "config/full.yaml" in argv:  # no full-scale data here: the check stops as the workflow would
        assert rc == 2 and OFFLINE_STOP in text and "missing; expected at" in text, tail
    elif argv[1] == "evaluate":
        assert rc == 2 and f"{argv[2]} does not exist" in text, tail
    else:
        assert rc == 0, tail
    if argv[1] == "run":
        assert "This was a dry-run" in text, tail
    if argv[1:3] == ["list", "studies"]:
        from convstudies.config import ordered_studies

        assert all(s in text for s in ordered_studies()), tail
    assert "Traceback" not in text, tail


def test_these_checks_catch_a_broken_command():
    from convstudies.config import ConfigError, validate_config

    with pytest.raises(pytest.fail.Exception):
        snakemake_args(["snakemake", "--no-such-option"])
    with pytest.raises(pytest.fail.Exception):
        convstudies_args(["convstudies", "run", "--scale", "tiny"])  # no study
    with pytest.raises(ConfigError):
        validate_config(resolved_config(snakemake_args(["snakemake", "--config", "scale=huge"])))
