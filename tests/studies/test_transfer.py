"""transfer study: the timm ResNets, the source/target digit tasks, derive, verdict, key table and figures."""
import re

import numpy as np
import pytest
import torch
from helpers.tables import synthetic_table

from convstudies.models import create_model
from convstudies.stats import summarize
from convstudies.studies.transfer import analysis, evaluations, figures

NARROW = {"arch": "resnet10t", "channels": [4, 8, 16, 32], "stem_width": 4}


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def test_timm_resnet_is_timms_model_narrowed():
    import timm

    m = create_model("timm_resnet", in_shape=(1, 28, 28), num_classes=4, **NARROW)
    assert isinstance(m, timm.models.ResNet) and m.get_classifier().out_features == 4
    assert m(torch.randn(2, 1, 28, 28)).shape == (2, 4)
    assert [m.layer1[0].conv1.out_channels, m.layer4[0].conv1.out_channels] == [4, 32]
    full = create_model("timm_resnet", in_shape=(3, 224, 224), num_classes=1000, arch="resnet18")
    assert round(n_params(full) / 1e6, 1) == 11.7  # ResNet-18's 11.7M parameters


def test_pretrained_weights_load_from_a_local_file_through_timm(tmp_path):
    """The offline path of the full scale: timm reads the file, drops the classifier of another
    size and adapts an RGB stem to one channel by summing its filters."""
    torch.manual_seed(0)
    src = create_model("timm_resnet", in_shape=(3, 28, 28), num_classes=6, **NARROW)
    path = tmp_path / "weights.pt"
    torch.save({k: v.detach().cpu() for k, v in src.state_dict().items()}, path)  # as a run's model.pt
    m = create_model("timm_resnet", in_shape=(1, 28, 28), num_classes=4, pretrained=True, weights_file=str(path),
                     **NARROW)
    own, saved = m.state_dict(), src.state_dict()
    assert torch.allclose(own["conv1.0.weight"], saved["conv1.0.weight"].sum(dim=1, keepdim=True))
    assert torch.equal(own["layer3.0.conv1.weight"], saved["layer3.0.conv1.weight"])
    assert own["fc.weight"].shape == (4, 32)  # a fresh classifier for the target's classes
    same = create_model("timm_resnet", in_shape=(3, 28, 28), num_classes=6, pretrained=True, weights_file=str(path),
                        **NARROW)
    assert all(torch.equal(v, same.state_dict()[k]) for k, v in saved.items() if not k.startswith("fc."))


def test_timm_resnet_argument_errors(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="missing.pt does not exist.*weights_file"):
        create_model("timm_resnet", pretrained=True, weights_file=str(tmp_path / "missing.pt"), **NARROW)
    with pytest.raises(ValueError, match="pretrained is false"):
        create_model("timm_resnet", weights_file=str(tmp_path / "w.pt"))
    with pytest.raises(ValueError, match="must be a timm ResNet"):
        create_model("timm_resnet", arch="vit_tiny_patch16_224")

    import timm

    def offline(*a, **k):
        raise OSError("We couldn't connect to 'https://huggingface.co'")

    monkeypatch.setattr(timm, "create_model", offline)
    with pytest.raises(RuntimeError, match=r"timm/resnet18.*pass the file as model.weights_file"):
        create_model("timm_resnet", arch="resnet18", pretrained=True)


def test_source_and_target_datasets_are_disjoint_digit_tasks():
    from convstudies.datasets.embedded import mnist5k, mnist5k_0to5, mnist5k_6to9

    full, src, tgt = mnist5k(), mnist5k_0to5(), mnist5k_6to9()
    assert (src.num_classes, tgt.num_classes) == (6, 4) and src.in_shape == tgt.in_shape == (1, 28, 28)
    assert torch.bincount(src.y_train).tolist() == [350] * 6 and torch.bincount(tgt.y_train).tolist() == [350] * 4
    for split in ("train", "test"):
        y = getattr(full, f"y_{split}")
        assert len(getattr(src, f"y_{split}")) + len(getattr(tgt, f"y_{split}")) == len(y)
    assert torch.bincount(tgt.y_val).tolist() == [10] * 4  # a few-label task's small validation set
    assert torch.equal(tgt.x_val[tgt.y_val == 0], full.x_val[full.y_val == 6][:10])
    # target labels 0-3 are digits 6-9, in mnist5k's own split
    assert torch.equal(tgt.x_test, full.x_test[full.y_test >= 6]) and torch.equal(tgt.y_test, full.y_test[full.y_test >= 6] - 6)


def test_labels_per_class_evaluation(digits_data):
    assert evaluations.labels_per_class(None, digits_data, {}) == [
        {"condition": "data", "metric": "labels_per_class", "value": len(digits_data.y_train) / 10}]


# ---------------------------------------------------------------- derive and verdict on synthetic tables

SIZES = {"train_fraction0.002": 1, "train_fraction0.028": 10, "train_fraction1": 350}
ARMS = ("scratch", "finetune", "frozen")


def make_table(gain_few=0.15, loss_full=-0.01, noise=0.01, seeds=(0, 1, 2)):
    points = {"source": {"arm": "source"}, **{f"{arm}-{size}": {"arm": arm} for size in SIZES for arm in ARMS}}

    def values(point, labels, seed):
        if point == "source":
            return [{"condition": "test", "metric": "accuracy", "value": 0.95, "noisy": False},
                    {"condition": "data", "metric": "labels_per_class", "value": 350.0, "noisy": False}]
        lpc = SIZES[point.split("-", 1)[1]]
        scratch = {1: 0.35, 10: 0.7, 350: 0.96}[lpc]
        acc = {"scratch": scratch, "finetune": scratch + ({1: 0.2, 10: gain_few, 350: -loss_full}[lpc]),
               "frozen": scratch - 0.05}[labels["arm"]]
        return [{"condition": "test", "metric": "accuracy", "value": acc},
                {"condition": "data", "metric": "labels_per_class", "value": float(lpc), "noisy": False}]

    return analysis.derive(synthetic_table(points, values, seeds=seeds, noise=noise, study="transfer", rng_seed=1))


def decide(table):
    return analysis.verdict(table, summarize(table), {"few_label_gain_min": 0.05, "full_data_loss_max": 0.02})


def test_derive_pairs_gains_by_seed_and_size():
    t = make_table(noise=0.0)
    g = t[(t["condition"] == "gain") & (t["point"] == "finetune-train_fraction0.028")]
    assert len(g) == 3 and np.allclose(g["value"], 0.15) and (g["labels"] == 10).all()
    assert np.allclose(t[(t["condition"] == "gain") & t["point"].str.startswith("scratch")]["value"], 0.0)
    assert np.allclose(t[(t["condition"] == "gain") & t["point"].str.startswith("frozen")]["value"], -0.05)


def test_verdict_holds_when_pretraining_helps_with_few_labels_and_costs_nothing_with_all():
    out = decide(make_table(noise=0.001))
    assert out["verdict"] == "holds", out["evidence"]
    assert "10 labels per class" in out["evidence"][0]["name"] and "350 per class" in out["evidence"][1]["name"]
    one_label = re.search(r"1 label per class: fine-tuned ([+-]\d\.\d{3}) \[", out["note"])
    assert one_label and float(one_label[1]) == pytest.approx(0.2, abs=0.003)
    assert "source net reaches 0.950" in out["note"]


def test_verdict_does_not_hold_without_a_gain_or_with_a_cost():
    assert decide(make_table(gain_few=0.0))["verdict"] == "does not hold"
    out = decide(make_table(loss_full=0.1))
    assert out["verdict"] == "does not hold" and out["evidence"][1]["outcome"] == "fail"


def test_verdict_inconclusive_when_the_seeds_disagree():
    out = decide(make_table(gain_few=0.06, noise=0.1))
    assert out["verdict"] == "inconclusive"


def test_key_table_and_figures_render():
    import matplotlib

    matplotlib.use("Agg")
    table = make_table(noise=0.001)
    summary = summarize(table)
    key = analysis.key_table(summary)
    assert key["labels per class"].tolist() == ["1", "10", "350"]
    gain = re.fullmatch(r"([+-]\d\.\d{3}) \[([+-]\d\.\d{3}), ([+-]\d\.\d{3})\]",
                        key["fine-tuning gain [95 % CI]"].iloc[1])  # "+0.150 [+0.149, +0.151]"
    m, lo, hi = map(float, gain.groups())
    assert m == pytest.approx(0.15, abs=0.003) and lo <= m <= hi
    for fn in (figures.accuracy_vs_labels, figures.gain_vs_labels):
        fig = fn(table, summary)
        ax = fig.axes[0]
        assert ax.get_xscale() == "log" and len(ax.get_legend().get_texts()) == 3  # scratch, finetune, frozen


def test_sizes_are_ordered_by_labels_per_class():
    summary = summarize(make_table(noise=0.0))
    assert analysis.sizes(summary) == list(SIZES)  # 1, 10, 350 labels per class
    assert analysis.arm_of("finetune-train_fraction1") == "finetune"
