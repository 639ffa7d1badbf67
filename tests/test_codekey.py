"""Runs are keyed on the code they execute: a changed model, data generator, engine or
evaluation gives new run ids (trained anew); a changed figure or verdict changes none."""
from pathlib import Path

import pytest

from convstudies.cli import main
from convstudies.codekey import code_files, code_hash
from convstudies.config import expand_points, load_study
from convstudies.engine.jobs import entry_runs

from conftest import REPO

REAL_READ = Path.read_bytes


def edited(target: str):
    """A Path.read_bytes that sees ``target`` (relative to the repository) edited."""
    def read(path: Path) -> bytes:
        data = REAL_READ(path)
        return data + b"\n# edited\n" if Path(path).resolve() == (REPO / target).resolve() else data
    return read


def cfg_of(study, point):
    return {**expand_points(load_study(study), "tiny")[point]["config"], "seed": 0}


def test_a_run_executes_its_model_dataset_evaluations_and_the_engine_and_nothing_of_the_analysis():
    files = {str(p.relative_to(REPO)) for p in code_files(cfg_of("translation", "mlp"))}
    assert {"models/mlp.py", "convstudies/datasets/embedded.py", "convstudies/evaluations/common.py",
            "convstudies/engine/train.py", "convstudies/engine/module.py", "convstudies/shifts.py"} <= files
    assert not {f for f in files if f.endswith(("figures.py", "analysis.py")) or "report" in f or "steps" in f}
    assert "models/cnn.py" not in files  # another model's code
    lenet = {str(p.relative_to(REPO)) for p in code_files(cfg_of("lenet5", "lenet5"))}
    assert {"studies/lenet5/evaluations.py", "studies/lenet5/analysis.py", "models/lenet.py"} <= lenet


@pytest.mark.parametrize("target,changes", [
    ("models/mlp.py", True), ("convstudies/datasets/embedded.py", True), ("convstudies/engine/module.py", True),
    ("convstudies/evaluations/common.py", True), ("models/cnn.py", False), ("studies/translation/figures.py", False),
    ("studies/translation/analysis.py", False), ("convstudies/report.py", False),
])
def test_run_ids_follow_the_code_the_run_executes(monkeypatch, target, changes):
    assert (code_hash(cfg_of("translation", "mlp"), read=edited(target)) != code_hash(cfg_of("translation", "mlp"))) \
        == changes
    before = [r["run"] for r in entry_runs("translation", "mlp", "tiny", [0, 1])]
    monkeypatch.setattr(Path, "read_bytes", edited(target))
    after = [r["run"] for r in entry_runs("translation", "mlp", "tiny", [0, 1])]
    assert (before != after) == changes


def test_execution_path_device_and_precision_are_in_the_key():
    base = entry_runs("translation", "mlp", "tiny", [0])[0]
    assert base["execution"]["path"] == "separate" and base["execution"]["code"]
    assert entry_runs("translation", "mlp", "tiny", [0], precision="bf16-mixed")[0]["run"] != base["run"]
    assert entry_runs("translation", "mlp", "tiny", [0], device="cuda")[0]["run"] != base["run"]


def test_a_code_change_retrains_and_an_unrelated_edit_keeps_the_runs(tmp_path, monkeypatch, capsys):
    def job():
        return main(["train-entry", "--study", "translation", "--entry", "mlp", "--scale", "tiny", "--seeds", "0",
                     "--runs-dir", str(tmp_path / "runs"), "--summary", str(tmp_path / "mlp.json")])

    assert job() == 0
    monkeypatch.setattr(Path, "read_bytes", edited("studies/translation/figures.py"))
    capsys.readouterr()
    assert job() == 0 and "finished earlier, kept" in capsys.readouterr().out
    monkeypatch.setattr(Path, "read_bytes", edited("models/mlp.py"))
    assert job() == 0 and " ok in " in capsys.readouterr().out
    assert len(list((tmp_path / "runs" / "mlp").glob("seed0-*/metrics.json"))) == 2  # the old run is kept beside


def test_code_keys_are_computed_without_importing_torch():
    from helpers.processes import VIOLATION, run_without_torch

    code = ("from convstudies.codekey import code_hash, module_file; from convstudies.config import expand_points, "
            "load_study; assert module_file('convstudies.datasets.base.TensorDataset') is None; "
            "[code_hash(p['config']) for s in ('lenet5', 'conv1d', 'transfer') "
            "for p in expand_points(load_study(s), 'embedded').values()]")
    out = run_without_torch(["-c", code])
    assert out.returncode == 0 and VIOLATION not in out.stderr, out.stderr[-2000:]
