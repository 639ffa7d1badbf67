"""Subprocesses as the workflow's rules start them."""
import os
import subprocess
import sys
from pathlib import Path

NO_TORCH = Path(__file__).resolve().parent / "no_torch"
VIOLATION = "NO-TORCH VIOLATION"


def run_without_torch(args: list[str], cwd=None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``python args...`` in a fresh process that refuses to import torch (see no_torch/sitecustomize.py)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(NO_TORCH), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
