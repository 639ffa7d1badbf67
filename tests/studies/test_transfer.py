"""transfer study: the timm ResNets, the source/target digit tasks, derive, verdict, key table and figures."""
import re

import numpy as np
import pandas as pd
import pytest
import torch
from helpers.tables import examples_of, synthetic_table, with_examples

from convstudies import stats
from convstudies.models import create_model
from convstudies.studies.transfer import analysis, evaluations, figures

NARROW = {"arch": "resnet10t", "channels": [4, 8, 16, 32], "stem_width": 4}


def summarize(table):
    """The summary over seeds, one row per point, condition and metric: the per-run ``examples`` key
    is left out of the grouping (convstudies.stats.summarize groups by every other column)."""
    return stats.summarize(table.drop(columns=["examples"], errors="ignore"))


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


def save_tiny_weights(path, num_classes=1000, seed=0, rename=None):
    """A weight file as the full scale reads one: the state dict of a tiny timm ResNet at random init."""
    torch.manual_seed(seed)
    src = create_model("timm_resnet", in_shape=(3, 32, 32), num_classes=num_classes, **NARROW)
    state = {(rename(k) if rename else k): v.detach().cpu() for k, v in src.state_dict().items()}
    torch.save(state, path)
    return src.state_dict()


def test_timm_weights_file_loads_with_a_fresh_classifier_and_a_record(tmp_path):
    """The full scale's path (timm.create_model pretrained, pretrained_cfg_overlay file) on a tiny file: the
    classifier is re-initialised even when its shape agrees, and the model says what it loaded."""
    from convstudies.engine.train import file_sha256

    path = tmp_path / "resnet10t.pt"
    saved = save_tiny_weights(path, num_classes=10)
    torch.manual_seed(1)
    m = create_model("timm_resnet", in_shape=(3, 32, 32), num_classes=10, pretrained=True, weights_file=str(path),
                     **NARROW)
    own = m.state_dict()
    assert all(torch.equal(own[k], v) for k, v in saved.items() if not k.startswith("fc."))
    assert not torch.equal(own["fc.weight"], saved["fc.weight"])  # same shape, still fresh
    rec = m.initial_weights
    assert rec["not_loaded"] == ["fc.bias", "fc.weight"] and rec["loaded"] == len(own) - 2
    assert rec["file"] == str(path) and rec["sha256"] == file_sha256(path) and rec["from"] == "model.weights_file"


def test_weights_that_give_no_backbone_tensor_are_refused(tmp_path):
    path = tmp_path / "other.pt"
    save_tiny_weights(path, rename=lambda k: "backbone." + k)  # another model's names
    with pytest.raises(ValueError, match="loaded no backbone tensor"):
        create_model("timm_resnet", in_shape=(3, 32, 32), num_classes=10, pretrained=True, weights_file=str(path),
                     **NARROW)


def test_pretrained_input_resizes_and_normalises_on_the_device_as_the_weights_expect():
    import timm
    import torch.nn.functional as F

    torch.manual_seed(0)
    m = create_model("timm_resnet", in_shape=(3, 32, 32), num_classes=10, pretrained_input=True, **NARROW).eval()
    cfg = timm.data.resolve_data_config({}, model=m)  # resnet10t's pretrained_cfg: 176 px, bicubic, ImageNet stats
    assert m.pretrained_input_size == tuple(cfg["input_size"][1:]) == (176, 176)
    x = torch.rand(2, 3, 32, 32)
    big = F.interpolate(x, size=(176, 176), mode=cfg["interpolation"], align_corners=False)
    ref = (big - torch.tensor(cfg["mean"]).view(1, 3, 1, 1)) / torch.tensor(cfg["std"]).view(1, 3, 1, 1)
    with torch.no_grad():
        m_plain = create_model("timm_resnet", in_shape=(3, 32, 32), num_classes=10, **NARROW).eval()
        m_plain.load_state_dict(m.state_dict())
        assert torch.allclose(m(x), m_plain(ref), atol=1e-5)
    assert set(m.state_dict()) == set(m_plain.state_dict())  # timm's keys: the statistics are not weights


def test_engine_records_initial_weights_and_keeps_a_frozen_backbone_with_its_batch_norm(tmp_path, run_cfg):
    """train.freeze_backbone is a linear probe: backbone weights and batch-norm statistics stay as loaded
    (batch norm in eval mode), only the fresh classifier trains; provenance lists what was not loaded."""
    import json

    from convstudies.datasets.base import TensorDataset
    from convstudies.engine.train import train

    g = torch.Generator().manual_seed(0)
    ds = TensorDataset("rgb", torch.rand(60, 3, 16, 16, generator=g), torch.arange(60) % 3,
                       torch.rand(12, 3, 16, 16, generator=g), torch.arange(12) % 3,
                       torch.rand(12, 3, 16, 16, generator=g), torch.arange(12) % 3, 3)
    path = tmp_path / "w.pt"
    saved = save_tiny_weights(path)
    cfg = {**run_cfg, "data": {**run_cfg["data"], "dataset": "rgb"},
           "model": {"name": "timm_resnet", **NARROW, "pretrained": True, "weights_file": str(path),
                     "pretrained_input": True},
           "train": {**run_cfg["train"], "epochs": 1, "batch_size": 30, "freeze_backbone": True}}
    train(cfg, data=ds, run_dir=tmp_path / "probe")
    after = torch.load(tmp_path / "probe" / "model.pt", weights_only=True)
    assert [k for k, v in saved.items() if not k.startswith("fc.") and not torch.equal(v, after[k])] == []
    rec = json.loads((tmp_path / "probe" / "provenance.json").read_text())["runtime"]["initial_weights"]
    assert rec["not_loaded"] == ["fc.bias", "fc.weight"] and rec["input"]["input_size"] == [3, 176, 176]
    # the embedded path (train.init_from: a source run's model.pt) records the same
    cfg["model"] = {"name": "timm_resnet", **NARROW}
    train(cfg, data=ds, run_dir=tmp_path / "probe2", init_weights=path)
    after = torch.load(tmp_path / "probe2" / "model.pt", weights_only=True)
    assert [k for k, v in saved.items() if not k.startswith("fc.") and not torch.equal(v, after[k])] == []
    rec = json.loads((tmp_path / "probe2" / "provenance.json").read_text())["runtime"]["initial_weights"]
    assert rec["from"] == "train.init_from" and rec["not_loaded"] == ["fc.bias", "fc.weight"]


def test_engine_refuses_initial_weights_without_a_backbone_tensor_and_a_probe_without_weights(tmp_path):
    from convstudies.engine.train import initial_weights, load_initial_weights

    path = tmp_path / "other.pt"
    save_tiny_weights(path, rename=lambda k: "backbone." + k)
    m = create_model("timm_resnet", in_shape=(3, 32, 32), num_classes=10, **NARROW)
    with pytest.raises(ValueError, match="no backbone tensor"):
        load_initial_weights(m, path)
    with pytest.raises(ValueError, match="freeze_backbone needs pretrained weights"):
        initial_weights(m, None, freeze_backbone=True)
    same = tmp_path / "same.pt"
    saved = save_tiny_weights(same, num_classes=10)
    assert load_initial_weights(m, same) == ["fc.bias", "fc.weight"]  # classifier of the same shape: still fresh
    assert not torch.equal(m.state_dict()["fc.weight"], saved["fc.weight"])


def fake_hub_cache(cache, repo="timm/resnet18.a1_in1k"):
    snap = cache / f"models--{repo.replace('/', '--')}" / "snapshots" / "0123abc"
    snap.mkdir(parents=True)
    (snap / "model.safetensors").write_bytes(b"weights")
    return snap / "model.safetensors"


def test_offline_missing_weights_are_named_with_how_to_get_them(tmp_path):
    from convstudies.datasets.sources import missing_weights

    pretrained = {"name": "timm_resnet", "arch": "resnet18", "pretrained": True}
    offline, cache = (lambda host: False), tmp_path / "hub"
    msgs = missing_weights([pretrained, pretrained, {"name": "timm_resnet"}, {"name": "cnn"}], offline, cache)
    assert len(msgs) == 1 and "timm/resnet18.a1_in1k" in msgs[0] and str(cache) in msgs[0]
    assert "timm.create_model('resnet18', pretrained=True)" in msgs[0] and "model.weights_file" in msgs[0]
    assert missing_weights([pretrained], lambda host: True, cache) == []  # online: timm downloads them
    fake_hub_cache(cache)
    assert missing_weights([pretrained], offline, cache) == []  # in the hub cache
    local = {**pretrained, "weights_file": str(tmp_path / "resnet18.safetensors")}
    assert "resnet18.safetensors (model.weights_file) missing" in missing_weights([local], lambda host: True, cache)[0]
    (tmp_path / "resnet18.safetensors").write_bytes(b"weights")
    assert missing_weights([local], offline, cache) == []


def test_the_plan_time_weights_table_is_timms():
    import timm

    from convstudies.datasets.sources import TIMM_HUB

    for arch, repo in TIMM_HUB.items():
        assert timm.models.get_pretrained_cfg(arch).hf_hub_id == repo


def test_workflow_stops_before_any_job_without_the_weights_offline(tmp_path, monkeypatch):
    """Full scale offline, CIFAR-10 files present: the missing ImageNet weights stop planning, named; once
    they are in the hub cache, planning goes on."""
    import pickle
    import subprocess

    from conftest import snakemake_cmd
    from convstudies.datasets.sources import CIFAR_NAMES

    folder = tmp_path / "data" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in CIFAR_NAMES:
        (folder / name).write_bytes(pickle.dumps({b"data": np.zeros((10, 3072), np.uint8), b"labels": list(range(10))}))
    monkeypatch.setenv("CONVSTUDIES_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    cmd = snakemake_cmd(tmp_path, "-n", "--cores", "1", "--config", "scale=full", "studies=[transfer]",
                        f"data_root={tmp_path / 'data'}", f"results_dir={tmp_path / 'res'}")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    text = out.stdout + out.stderr
    assert out.returncode != 0 and "pretrained weights are missing and cannot be downloaded (offline)" in text
    assert "timm_resnet resnet18: ImageNet weights timm/resnet18.a1_in1k" in text and "Nothing to be done" not in text
    fake_hub_cache(tmp_path / "hub")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


def test_full_scale_configs_follow_the_protocol():
    """Full scale: ImageNet-pretrained ResNet-18 (no self-pretraining) vs scratch vs linear probe on CIFAR-10,
    inputs as the weights expect, 1 to 4,500 labels per class, the same budget for every arm."""
    from convstudies.config import expand_points, load_study
    from convstudies.engine.train import balanced_subset

    points = expand_points(load_study("transfer"), "full")
    arms = {analysis.arm_of(p) for p in points}
    assert arms == {"scratch", "finetune", "frozen"}  # no source run: timm's weights instead
    y = torch.arange(45000) % 10  # CIFAR-10's 45,000 training images after the 5,000 for validation
    lpc = {}
    for pid, p in points.items():
        c, arm = p["config"], analysis.arm_of(pid)
        assert c["data"]["dataset"] == "cifar10_pixels" and c["data"]["n_train"] is None
        m = c["model"]
        assert (m["name"], m["arch"], m["pretrained_input"]) == ("timm_resnet", "resnet18", True)
        assert m["channels"] == [64, 128, 256, 512] and m["stem_width"] == 64  # timm's resnet18: the weights' shapes
        assert m.get("pretrained", False) == (arm != "scratch") and "weights_file" not in m  # hub cache or hub
        t = c["train"]
        assert t["init_from"] is None and t["freeze_backbone"] == (arm == "frozen")
        assert (t["optimizer"], t["momentum"], t["weight_decay"], t["batch_size"], t["schedule"]) == (
            "sgd", 0.9, 5e-4, 128, "cosine")
        assert (t["epochs"], t["min_steps"], t["augment_shift"], t["augment_flip"]) == (30, 500, 4, True)
        assert t["lr"] == {"scratch": 0.1, "finetune": 0.01, "frozen": 0.1}[arm]
        n = len(balanced_subset(y, c["data"]["train_fraction"], None, seed=0))
        lpc.setdefault(arm, []).append(n // 10)
    assert {a: sorted(v) for a, v in lpc.items()} == {a: [1, 10, 100, 1000, 4500] for a in arms}


def test_embedded_scale_keeps_its_self_pretraining():
    from convstudies.config import expand_points, load_study

    points = expand_points(load_study("transfer"), "embedded")
    assert points["source"]["config"]["data"]["dataset"] == "mnist5k_0to5"
    for pid, p in points.items():
        c = p["config"]
        assert c["model"]["arch"] == "resnet10t" and not c["model"].get("pretrained")
        assert c["train"]["init_from"] == ("source" if analysis.arm_of(pid) in ("finetune", "frozen") else None)
        assert c["train"]["freeze_backbone"] == (analysis.arm_of(pid) == "frozen")


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
N_TEST = 400  # digits 6-9 of mnist5k's test split
THRESHOLDS = {"few_label_gain_min": 0.05, "full_data_loss_max": 0.02}


def correctness(p, n, rng):
    """A 0/1 array of ``n`` examples with round(p n) ones at random positions."""
    v = np.zeros(n)
    v[rng.choice(n, round(float(np.clip(p, 0, 1)) * n), replace=False)] = 1.0
    return v


def make_table(gain_few=0.15, loss_full=-0.01, noise=0.01, seeds=(0, 1, 2), gain_one=0.2, lpc_of=None):
    points = {"source": {"arm": "source"}, **{f"{arm}-{size}": {"arm": arm} for size in SIZES for arm in ARMS}}
    rng = np.random.default_rng(1)

    def values(point, labels, seed):
        if point == "source":
            return [{"condition": "test", "metric": "accuracy", "per_example": correctness(0.95, 600, rng)},
                    {"condition": "data", "metric": "labels_per_class", "value": 350.0, "noisy": False}]
        lpc = SIZES[point.split("-", 1)[1]]
        scratch = {1: 0.35, 10: 0.7, 350: 0.96}[lpc]
        acc = {"scratch": scratch, "finetune": scratch + ({1: gain_one, 10: gain_few, 350: -loss_full}[lpc]),
               "frozen": scratch - 0.05}[labels["arm"]]
        lpc_value = float(lpc) if lpc_of is None else lpc_of(labels["arm"], lpc)
        return [{"condition": "test", "metric": "accuracy",
                 "per_example": correctness(acc + noise * rng.standard_normal(), N_TEST, rng)},
                {"condition": "data", "metric": "labels_per_class", "value": lpc_value, "noisy": False}]

    return with_examples(analysis.derive,
                         synthetic_table(points, values, seeds=seeds, noise=noise, study="transfer", rng_seed=1))


def decide(table):
    return analysis.verdict(table, summarize(table), THRESHOLDS, examples_of(table))


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
    assert "source net reaches 0.950 [" in out["note"]
    for e in out["evidence"]:
        assert e["ci_high"] > e["ci_low"] and "paired on seeds and test examples" in e["name"]


def test_verdict_does_not_hold_without_a_gain_or_with_a_cost():
    assert decide(make_table(gain_few=0.0))["verdict"] == "does not hold"
    out = decide(make_table(loss_full=0.1))
    assert out["verdict"] == "does not hold" and out["evidence"][1]["outcome"] == "fail"


def test_verdict_inconclusive_when_the_seeds_disagree():
    out = decide(make_table(gain_few=0.06, noise=0.1))
    assert out["verdict"] == "inconclusive"


def test_intervals_count_test_examples_even_when_the_seeds_agree():
    from convstudies.intervals import paired_difference

    table = make_table(noise=0.0)
    few = decide(table)["evidence"][0]
    ex = examples_of(table)
    test = table[table["condition"] == "test"]
    mats = [np.stack([ex[k] for k in test[test["point"] == p].sort_values("seed")["examples"]])
            for p in ("finetune-train_fraction0.028", "scratch-train_fraction0.028")]
    assert mats[0].shape == (3, N_TEST)
    assert (few["estimate"], few["ci_low"], few["ci_high"]) == pytest.approx(paired_difference(*mats))
    assert few["estimate"] == pytest.approx(0.15) and few["ci_high"] - few["ci_low"] > 0.03  # seeds agree exactly


def test_checked_sizes_are_fixed_by_design_not_picked_on_results():
    """No selection: the few-label check stays at 10 labels per class when another size has the larger
    test gain and the best validation accuracy."""
    table = make_table(gain_one=0.5, gain_few=0.1)
    ex = examples_of(table)
    val = table[(table["condition"] == "test") & (table["point"] == "finetune-train_fraction0.002")]
    table.attrs = {}
    table = pd.concat([table, val.assign(condition="final", metric="val_acc", value=1.0, examples=np.nan)],
                      ignore_index=True)
    out = analysis.verdict(table, summarize(table), THRESHOLDS, ex)
    assert "10 labels per class" in out["evidence"][0]["name"]
    assert out["evidence"][0]["estimate"] == pytest.approx(0.1, abs=0.02)


def test_invariant_labels_per_class_is_reported_apart_from_the_evidence():
    out = decide(make_table())
    assert len(out["evidence"]) == 2 and len(out["invariants"]) == 1
    inv = out["invariants"][0]
    assert inv["outcome"] == "pass" and inv["estimate"] == inv["ci_low"] == inv["ci_high"] == 0
    bad = decide(make_table(lpc_of=lambda arm, lpc: lpc + (1 if arm == "frozen" else 0)))
    assert bad["verdict"] == "inconclusive" and bad["invariants"][0]["estimate"] == 1


def test_note_numbers_are_the_paired_intervals():
    table = make_table()
    out = decide(table)
    m, lo, hi = analysis.gain(table, examples_of(table), "frozen-train_fraction1", "scratch-train_fraction1")
    assert "350 labels per class: fine-tuned" in out["note"]
    assert f"frozen backbone {m:+.3f} [{lo:+.3f}, {hi:+.3f}]" in out["note"]


def test_accuracy_evaluation_rows_carry_per_example_values_of_the_test_split(digits_data, run_cfg):
    from convstudies.evaluations import get_evaluation

    torch.manual_seed(0)
    model = create_model("cnn", in_shape=(1, 8, 8), num_classes=10, blocks=[{"filters": 4, "kernel": 3}])
    for row in get_evaluation("accuracy")(model, digits_data, run_cfg):
        v = row["per_example"]
        assert v.shape == (len(digits_data.y_test),) and float(v.mean()) == pytest.approx(row["value"], rel=1e-5)
    assert "per_example" not in evaluations.labels_per_class(None, digits_data, {})[0]  # not a test-set number


def test_key_table_and_figures_render():
    import matplotlib

    matplotlib.use("Agg")
    table = make_table(noise=0.001)
    summary = summarize(table)
    key = analysis.key_table(summary)
    assert key["labels per class"].tolist() == ["1", "10", "350"]
    gain = re.fullmatch(r"([+-]\d\.\d{3}) \[([+-]\d\.\d{3}), ([+-]\d\.\d{3})\]",
                        key["fine-tuning gain [95 % CI over seeds]"].iloc[1])  # "+0.150 [+0.149, +0.151]"
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
