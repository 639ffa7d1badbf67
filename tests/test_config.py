import copy

import pytest

from convstudies.config import ConfigError, expand_points, load_study, run_id, validate_config

from conftest import edit_study


def test_defaults_are_filled_in():
    cfg = validate_config({})
    assert cfg["scale"] == "embedded" and cfg["results_dir"] == "results" and cfg["fail_runs"] == []
    assert "translation" in cfg["studies"]


def test_unknown_config_key_and_study_typo():
    with pytest.raises(ConfigError, match=r"(?s)'scael' was unexpected.*allowed keys: .*scale"):
        validate_config({"scael": "tiny"})
    with pytest.raises(ConfigError, match=r"(?s)studies\[0\]: unknown study 'translaton'; did you mean 'translation'\? "
                                          r"available: .*translation"):
        validate_config({"studies": ["translaton"]})
    with pytest.raises(ConfigError, match=r"'sedes' was unexpected\) \(did you mean 'seeds'\?\); allowed keys"):
        validate_config({"sedes": [1]})
    assert validate_config({"studies": "lenet5"})["studies"] == ["lenet5"]  # --config studies=lenet5
    with pytest.raises(ConfigError, match=r"(?s)scale: 'huge' is not one of \['tiny', 'embedded', 'full'\]"):
        validate_config({"scale": "huge"})


def test_negative_kernel_size_names_the_point_and_key(studies_dir):
    edit_study(studies_dir, lambda d: d["grid"][1]["set"]["model"]["blocks"][0].update(kernel=-3))
    with pytest.raises(ConfigError, match=r"(?s)point 'cnn_flatten'.*model\.blocks\[0\]\.kernel: -3 is less than the minimum of 1"):
        expand_points(load_study("translation", studies_dir), "embedded", "translation.yaml")


def test_unknown_key_in_study_file(studies_dir):
    edit_study(studies_dir, lambda d: d["defaults"]["train"].update(epoch=3))
    with pytest.raises(ConfigError, match=r"(?s)train: Additional properties.*'epoch' was unexpected.*allowed keys: .*epochs"):
        expand_points(load_study("translation", studies_dir), "embedded", "translation.yaml")


def test_all_studies_in_the_lectures_order():
    cfg = validate_config({"studies": "all"})
    assert cfg["studies"][0] == "translation"


def test_study_id_must_match_file_name(studies_dir):
    edit_study(studies_dir, lambda d: d.update(study="translate"))
    with pytest.raises(ConfigError, match="must equal the file name"):
        load_study("translation", studies_dir)


def test_vary_expands_per_scale_and_scale_overrides_apply_after_entry_settings():
    study = load_study("translation")
    emb = expand_points(study, "embedded")
    tiny = expand_points(study, "tiny")
    assert [p for p in emb if p.startswith("eff_mlp")] == [
        "eff_mlp-train_fraction0.125", "eff_mlp-train_fraction0.25", "eff_mlp-train_fraction0.5",
        "eff_mlp-train_fraction1"]
    assert emb["eff_mlp-train_fraction0.25"]["config"]["data"]["train_fraction"] == 0.25
    assert emb["eff_mlp-train_fraction0.25"]["labels"]["train_fraction"] == 0.25
    assert emb["eff_cnn-train_fraction0.125"]["config"]["train"]["min_steps"] == 110
    assert tiny["eff_cnn-train_fraction0.5"]["config"]["train"]["min_steps"] == 0  # the tiny scale wins


def test_run_id_changes_with_the_configuration():
    cfg = {"a": 1}
    assert run_id("p", 0, cfg) == run_id("p", 0, copy.deepcopy(cfg))
    assert run_id("p", 0, cfg) != run_id("p", 0, {"a": 2})


def test_seeds_from_the_command_line_arrive_as_strings_and_are_accepted():
    cfg = validate_config({"seeds": ["3", "4", "5"]})  # what --config seeds='[3,4,5]' gives
    assert cfg["seeds"] == [3, 4, 5]
    with pytest.raises(ConfigError, match=r"seeds\[0\]: 'x' is not of type 'integer'"):
        validate_config({"seeds": ["x"]})


def test_phase_picks_the_development_or_confirmation_seeds():
    from convstudies.plan import plan

    study = load_study("lenet5")["scales"]["embedded"]["seeds"]
    conf = plan(validate_config({"studies": ["lenet5"]}))["lenet5"]["seeds"]
    dev = plan(validate_config({"studies": ["lenet5"], "phase": "development"}))["lenet5"]["seeds"]
    assert conf == study["confirmation"] and dev == study["development"] and min(conf) >= 1000
    with pytest.raises(ConfigError, match="phase: 'final' is not one of"):
        validate_config({"phase": "final"})


@pytest.mark.parametrize("given, scale, mode", [
    (None, "full", "on"), (None, "embedded", "study"), (None, "tiny", "study"),
    (True, "tiny", "on"), (False, "full", "off"), ("true", "embedded", "on"), ("False", "full", "off"),
])
def test_checkpoints_are_on_at_the_full_scale_unless_the_config_says_otherwise(given, scale, mode):
    from convstudies.config import checkpoint_mode, coerce_command_line

    config = coerce_command_line({"scale": scale, "checkpoints": given})
    assert checkpoint_mode(config) == mode


def test_checkpoints_override_the_runs_setting_without_changing_its_key(tmp_path):
    from convstudies.engine.checkpoints import location

    cfg = {"train": {"checkpoint": False}}
    assert location(cfg, tmp_path / "run", None) is None
    assert location(cfg, tmp_path / "run", None, enabled=True) == tmp_path / ".checkpoints" / "run"
    assert location({"train": {"checkpoint": True}}, tmp_path / "run", None, enabled=False) is None
