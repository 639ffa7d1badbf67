"""One small study run for real through the workflow at the tiny scale, from a copy of its
study directory, shared by the tests that edit study files (tests/test_edit_reruns.py) and
read the HTML report (tests/test_report_front_page.py).

The Snakefile reads study files from ``convstudies.config.STUDIES_DIR``; the environment
variable ``CONVSTUDIES_STUDIES_DIR`` points it (in Snakemake and in every job it starts) at the
copy, so a test can edit a study file without touching the repository. The study's Python
code is still imported from the package, which is the same code as the copy's until a test
edits it; the tests only dry-run after an edit.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Two grid entries (plain, residual) on sklearn's 8x8 digits: the cheapest study with more than one entry.
STUDY = "residual"
CONFIG = ["--config", "scale=tiny", f"studies=[{STUDY}]", "--cores", "2"]


@dataclass
class TinyStudy:
    workdir: Path
    studies_dir: Path  # the copy the workflow reads (CONVSTUDIES_STUDIES_DIR)
    pristine: Path  # an untouched copy of the study directory, to restore edits from

    @property
    def study_dir(self) -> Path:
        return self.studies_dir / STUDY

    def snakemake(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
        env = {**os.environ, "CONVSTUDIES_STUDIES_DIR": str(self.studies_dir)}
        return subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d",
                               str(self.workdir), *CONFIG, *args], env=env, capture_output=True, text=True,
                              timeout=timeout)

    def restore(self) -> None:
        """Undo every edit of the study copy: the original bytes and modification times."""
        shutil.copytree(self.pristine, self.study_dir, dirs_exist_ok=True)  # copy2: keeps mtimes


_RUNS: dict[str, TinyStudy] = {}


def tiny_study(tmp_path_factory) -> TinyStudy:
    """The study trained, tabulated, plotted, decided and reported once per test session."""
    if STUDY not in _RUNS:
        root = tmp_path_factory.mktemp("tiny_study")
        ignore = shutil.ignore_patterns("__pycache__")
        # copytree keeps the files' modification times: the copies are older than anything the run writes
        shutil.copytree(REPO / "studies" / STUDY, root / "studies" / STUDY, ignore=ignore)
        shutil.copytree(REPO / "studies" / STUDY, root / "pristine", ignore=ignore)
        run = TinyStudy(root / "work", root / "studies", root / "pristine")
        out = run.snakemake()
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        _RUNS[STUDY] = run
    return _RUNS[STUDY]


def planned_jobs(dry_run_output: str) -> list[tuple[str, dict[str, str]]]:
    """(rule, wildcards) of every job a ``snakemake -n`` output plans."""
    jobs = []
    for rule, body in re.findall(r"^(?:local)?rule (\w+):\n((?:[ \t]+.*\n?)*)", dry_run_output, re.M):
        wc = re.search(r"^\s+wildcards: (.*)$", body, re.M)
        pairs = [kv.split("=", 1) for kv in wc.group(1).split(", ")] if wc else []
        jobs.append((rule, dict(pairs)))
    return jobs
