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
    from convstudies.data import digits

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


def snakemake_cmd(workdir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir), *args]
