"""The convstudies command: help, listings and the contract check, without importing torch."""
import pytest

from convstudies.cli import main
from helpers.processes import VIOLATION, run_without_torch


def test_help_lists_user_commands_and_workflow_steps():
    out = run_without_torch(["-m", "convstudies", "--help"])
    assert out.returncode == 0
    for cmd in ("list", "check", "run", "evaluate", "prepare-data", "train-entry", "tables", "figures", "verdict",
                "report"):
        assert cmd in out.stdout
    assert "workflow step (called by the rules)" in out.stdout


@pytest.mark.parametrize("what,expected", [("studies", "lenet5 "), ("models", "resnet_cifar "),
                                           ("datasets", "mnist5k "), ("evaluations", "shift_sweep ")])
def test_list_names_what_is_registered_without_torch(what, expected):
    out = run_without_torch(["-m", "convstudies", "list", what])
    assert out.returncode == 0 and VIOLATION not in out.stderr, out.stderr
    assert expected in out.stdout


def test_list_shows_arguments_and_the_first_docstring_line(capsys):
    assert main(["list", "models"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("mlp "))
    assert "(in_shape, num_classes, depth, width, dropout)" in line and "hidden layers" in line


def test_check_plans_every_study_without_torch():
    out = run_without_torch(["-m", "convstudies", "check", "--scale", "tiny"])
    assert out.returncode == 0 and VIOLATION not in out.stderr, out.stderr
    assert out.stdout.count(": ok") == 9


def test_check_names_an_unknown_study(capsys):
    assert main(["check", "--studies", "lenet"]) == 2
    assert "unknown study 'lenet'" in capsys.readouterr().err


def test_run_passes_the_studies_scale_and_extra_arguments_to_snakemake(tmp_path, capfd):
    assert main(["run", "lenet5", "conv1d", "--scale", "tiny", "--directory", str(tmp_path), "--", "-n",
                 "--quiet"]) == 0
    out = capfd.readouterr().out
    assert "--config studies=[lenet5,conv1d] scale=tiny -n --quiet" in out
    assert not (tmp_path / "results").exists()  # a dry run
