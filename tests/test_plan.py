"""Planning: every study at every scale, and the study contract checked before any job."""
import pytest

from convstudies.config import ConfigError, ordered_studies, validate_config
from convstudies.plan import plan

from conftest import edit_study

STUDIES = ordered_studies()


@pytest.mark.parametrize("scale", ["tiny", "embedded", "full"])
@pytest.mark.parametrize("study", STUDIES)
def test_every_study_plans_at_every_scale(study, scale):
    planned = plan(validate_config({"scale": scale, "studies": [study]}))[study]
    assert planned["points"] and planned["seeds"]
    for p in planned["points"].values():
        assert p["config"]["evaluations"], "a point without evaluations measures nothing"


def test_the_nine_studies_in_the_lectures_order():
    assert STUDIES == ["translation", "mlp_depth", "conv_hparams", "pooling", "weight_sharing", "lenet5",
                       "residual", "transfer", "conv1d"]


def _plan(studies_dir):
    return plan(validate_config({"studies": ["translation"]}, studies_dir), studies_dir)


def test_misspelt_evaluation_names_the_file_point_and_key(studies_dir):
    edit_study(studies_dir, lambda d: d["defaults"]["evaluations"][1].update(name="shift_swep"))
    with pytest.raises(ConfigError, match=r"(?s)translation/study.yaml point 'mlp': evaluations\[1\]\.name: "
                                          r"unknown evaluation 'shift_swep'; did you mean 'shift_sweep'"):
        _plan(studies_dir)


def test_evaluation_parameters_are_checked(studies_dir):
    edit_study(studies_dir, lambda d: d["defaults"]["evaluations"][1]["params"].update(shift=[1]))
    with pytest.raises(ConfigError, match=r"evaluations\[1\]\.params: 'shift_sweep' does not take \['shift'\]; "
                                          r"allowed: directions, shifts"):
        _plan(studies_dir)


def test_figure_without_a_function(studies_dir):
    edit_study(studies_dir, lambda d: d["figures"].update(accuracy_vs_size="A caption."))
    with pytest.raises(ConfigError, match=r"study.yaml: figures.accuracy_vs_size: .*figures.py has no function "
                                          r"accuracy_vs_size\(table, summary\)"):
        _plan(studies_dir)


def test_threshold_the_verdict_reads_must_be_registered(studies_dir):
    edit_study(studies_dir, lambda d: d["thresholds"].pop("gap_drop_max"))
    with pytest.raises(ConfigError, match=r"thresholds: the verdict in analysis.py reads \['gap_drop_max'\], which "
                                          r"the study file does not register"):
        _plan(studies_dir)
    edit_study(studies_dir, lambda d: d["thresholds"].update(gap_drop_max=0.1, extra_margin=0.2))
    with pytest.raises(ConfigError, match=r"\['extra_margin'\] registered but never read"):
        _plan(studies_dir)


def test_analysis_without_a_verdict(studies_dir):
    path = studies_dir / "translation" / "analysis.py"
    path.write_text(path.read_text().replace("def verdict(", "def decide_claim("))
    with pytest.raises(ConfigError, match=r"analysis.py: defines no verdict\(\)"):
        _plan(studies_dir)


def test_unknown_model_name_and_argument(studies_dir):
    edit_study(studies_dir, lambda d: d["grid"][0]["set"]["model"].update(name="mlpp"))
    with pytest.raises(ConfigError, match=r"(?s)point 'mlp': model.name: unknown model 'mlpp'; did you mean 'mlp'[^?]*\? "
                                          r"registered: cnn, .*lenet5"):
        _plan(studies_dir)
    edit_study(studies_dir, lambda d: d["grid"][0]["set"]["model"].update(name="mlp", heads=2))
    with pytest.raises(ConfigError, match=r"(?s)'mlp' does not take \['heads'\]; allowed: depth, dropout, width"):
        _plan(studies_dir)


def test_unknown_dataset(studies_dir):
    edit_study(studies_dir, lambda d: d["defaults"]["data"].update(dataset="mnist6k"))
    with pytest.raises(ConfigError, match=r"data.dataset: unknown dataset 'mnist6k'; did you mean 'mnist5k'"):
        _plan(studies_dir)


def test_a_job_per_seed_is_keyed_on_its_own_seed_only():
    """With train_jobs=seed a changed seed list redoes only the jobs of the seeds that changed."""
    from convstudies.plan import entry_code_key

    planned = plan(validate_config({"scale": "tiny", "studies": ["translation"]}))["translation"]
    other = {**planned, "seeds": [*planned["seeds"], 7]}
    seed = planned["seeds"][0]
    assert entry_code_key(planned, "mlp", [seed]) == entry_code_key(other, "mlp", [seed])
    assert entry_code_key(planned, "mlp") != entry_code_key(other, "mlp")  # a job of every seed: redone
    assert entry_code_key(planned, "mlp", [seed]) != entry_code_key(planned, "mlp", [seed + 1])
