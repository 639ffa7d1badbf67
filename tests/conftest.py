import copy
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def digits_data():
    """sklearn's 8x8 digits as a TensorDataset: the cheapest real data for training tests."""
    from convstudies.datasets.embedded import digits

    return digits()


@pytest.fixture
def run_cfg():
    """A resolved run configuration (schema defaults + a tiny CNN) for the digits data."""
    from convstudies.config import deep_merge, run_defaults

    return copy.deepcopy(deep_merge(run_defaults(), {
        "seed": 0,
        "data": {"dataset": "digits"},
        "model": {"name": "cnn", "head": "flatten", "blocks": [{"filters": 4, "kernel": 3, "pool": "max"}]},
        "train": {"epochs": 2, "batch_size": 64, "lr": 0.01},
        "evaluations": [{"name": "accuracy"}],
    }))


@pytest.fixture
def studies_dir(tmp_path):
    """A copy of the translation study directory to break in tests (``studies_dir/translation/``)."""
    import shutil

    shutil.copytree(REPO / "studies" / "translation", tmp_path / "translation",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def edit_study(studies_dir, fn, study="translation"):
    """Apply ``fn`` to a study file's parsed YAML and write it back."""
    import yaml

    p = studies_dir / study / "study.yaml"
    doc = yaml.safe_load(p.read_text())
    fn(doc)
    p.write_text(yaml.safe_dump(doc))


def snakemake_cmd(workdir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir), *args]
