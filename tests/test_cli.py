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


BROKEN = "scale: tiny\nstudies: [translation\nseeds: [1]\n"


def test_a_broken_config_file_is_named_with_its_line(tmp_path, capsys):
    bad = tmp_path / "my config.yaml"
    bad.write_text(BROKEN)
    assert main(["check", "--configfile", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"config file {bad}, line 3, column 6: not valid YAML" in err
    # `convstudies run` refuses before Snakemake starts (Snakemake's message names no file)
    assert main(["run", "translation", "--scale", "tiny", "--", "-n", "--configfile", str(bad)]) == 2
    assert f"config file {bad}, line 3" in capsys.readouterr().err


def test_a_config_file_that_is_not_a_mapping_or_missing_is_refused(tmp_path, capsys):
    lst = tmp_path / "list.yaml"
    lst.write_text("- scale\n- tiny\n")
    assert main(["check", "--configfile", str(lst)]) == 2
    assert "must be a mapping of keys" in capsys.readouterr().err
    assert main(["check", "--configfile", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml does not exist" in capsys.readouterr().err


def test_check_reads_config_files_over_the_default(tmp_path, capsys):
    good = tmp_path / "c.yaml"
    good.write_text("scale: tiny\nstudies: [lenet5]\n")
    assert main(["check", "--configfile", str(good)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("lenet5") and "x 2 seeds" in out  # the tiny scale's two seeds


def test_configfiles_are_found_in_snakemake_arguments():
    from convstudies.cli import configfiles

    assert configfiles(["-n", "--configfile", "a.yaml", "b.yaml", "--cores", "2"]) == ["a.yaml", "b.yaml"]
    assert configfiles(["--configfiles=c.yaml", "-p"]) == ["c.yaml"]
    assert configfiles(["--config", "scale=tiny"]) == []


def test_train_runs_one_studys_entry_here_where_the_workflow_finds_it(tmp_path, capsys):
    from convstudies.engine.jobs import entry_runs

    assert main(["train", "translation", "--entries", "mlp", "--scale", "tiny", "--seeds", "0",
                 "--results-dir", str(tmp_path), "--no-progress-bar", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "translation/mlp/seed0 epoch 1/1" in out and "trained translation (mlp)" in out
    (run,) = entry_runs("translation", "mlp", "tiny", [0])
    assert (tmp_path / "runs" / "translation" / "mlp" / run["run"] / "metrics.json").is_file()
    assert (tmp_path / "runs" / "translation" / "mlp.json").is_file()


def test_train_names_an_unknown_entry(capsys):
    assert main(["train", "translation", "--entries", "mpl", "--scale", "tiny"]) == 2
    assert "has no grid entry mpl; entries: mlp" in capsys.readouterr().err
