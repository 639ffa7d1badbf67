"""Figures any study can list by name: drawn from the summary's per-epoch rows."""
import matplotlib

matplotlib.use("Agg")
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from convstudies.figures_generic import training_curves  # noqa: E402
from convstudies.stats import summarize  # noqa: E402


def _epoch_table(val_every: int = 1) -> pd.DataFrame:
    rows = []
    for point in ("mlp", "cnn"):
        for seed in (0, 1):
            for epoch in range(4):
                vals = {"train_loss": 2.0 / (epoch + 1) + seed * 0.01, "train_acc": 0.5 + 0.1 * epoch}
                if epoch % val_every == 0:
                    vals["val_acc"] = 0.45 + 0.1 * epoch
                rows += [{"point": point, "run": f"{point}{seed}", "seed": seed, "status": "ok", "condition": "epoch",
                          "epoch": epoch, "metric": k, "value": v} for k, v in vals.items()]
    return pd.DataFrame(rows)


def test_training_curves_draw_one_panel_per_metric_and_a_line_per_point():
    import matplotlib.pyplot as plt

    table = _epoch_table(val_every=2)
    fig = training_curves(table, summarize(table))
    axes = fig.axes
    assert [a.get_ylabel() for a in axes] == ["training loss", "training accuracy", "validation accuracy"]
    assert all(len(a.get_lines()) >= 2 for a in axes)  # mlp and cnn
    val_x = sorted({x for line in axes[2].get_lines() for x in line.get_xdata()})
    assert val_x == [1, 3]  # epochs 0 and 2 had validation, shown as epochs 1 and 3
    plt.close(fig)


def test_training_curves_need_per_epoch_rows():
    table = _epoch_table()
    summary = summarize(table.assign(condition="test"))
    with pytest.raises(ValueError, match="no per-epoch rows"):
        training_curves(table, summary)


def test_the_contract_accepts_a_generic_figure_and_names_them_for_a_typo(tmp_path):
    from convstudies.config import ConfigError, load_study
    from convstudies.contract import check_study_code
    from convstudies.config import study_file

    study = load_study("translation")
    study_dir = study_file("translation").parent
    check_study_code({**study, "figures": {**study["figures"], "training_curves": "curves"}}, study_dir)
    with pytest.raises(ConfigError, match="figures any study can list: training_curves"):
        check_study_code({**study, "figures": {"training_curve": "typo"}}, study_dir)
