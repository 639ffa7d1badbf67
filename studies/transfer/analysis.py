"""transfer: tables and verdict (pandas only) for pretrained vs from-scratch ResNets over target
training-set sizes; full fine-tuning vs frozen backbone (a linear probe). Embedded: pretrained by
the workflow on digits 0-5 (the ``source`` point); full: timm's ImageNet weights (no source point).

Evidence: test-accuracy differences between arms, paired on seeds (a pretrained run starts from
its own seed's source run) and on the target task's test examples, with two-way intervals that
count both. The checked sizes are fixed by design (the size nearest 10 labels per class, and
all labels), never chosen on results. Invariant: every arm of a size trains on the same number
of labels per class.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from convstudies.intervals import paired_difference, two_way_interval
from convstudies.stats import example_matrix, one_row, paired_matrices, select
from convstudies.verdicts import Check, decide

SCRATCH, FINETUNE, FROZEN = "scratch", "finetune", "frozen"  # grid entry ids (point-id prefixes)
FEW_LABELS = 10  # labels per class of the few-label check


def arm_of(point: str) -> str:
    return point.split("-")[0]


def derive(table: pd.DataFrame) -> pd.DataFrame:
    """Per target run: its labels per class as a column, and its accuracy gain over the scratch run
    of the same seed and training-set size (condition "gain")."""
    lpc = select(table, condition="data", metric="labels_per_class")[["point", "run", "value"]]
    if lpc.empty:
        return table
    table = table.drop(columns=["labels"], errors="ignore").merge(
        lpc.rename(columns={"value": "labels"}), on=["point", "run"], how="left")
    acc = select(table, condition="test", metric="accuracy")
    acc = acc[acc["point"].map(arm_of).isin([SCRATCH, FINETUNE, FROZEN])].assign(arm_id=lambda d: d["point"].map(arm_of))
    acc = acc.assign(size=acc["point"].str.split("-", n=1).str[1])
    base = acc[acc["arm_id"] == SCRATCH][["size", "seed", "value"]].rename(columns={"value": "scratch"})
    gains = acc.merge(base, on=["size", "seed"])  # scratch rows give the zero line of the gain figure
    gains = gains.assign(condition="gain", metric="accuracy_gain", value=gains["value"] - gains["scratch"])
    gains = gains.drop(columns=["scratch", "arm_id", "size"])
    return pd.concat([table, gains], ignore_index=True)


def sizes(summary: pd.DataFrame) -> list[str]:
    """The target sizes (point-id suffixes) run for every arm, by labels per class."""
    acc = select(summary, condition="test", metric="accuracy")
    by_arm = {a: set(acc[acc["point"].map(arm_of) == a]["point"].str.split("-", n=1).str[1])
              for a in (SCRATCH, FINETUNE)}
    common = by_arm[SCRATCH] & by_arm[FINETUNE]
    lpc = {s: float(one_row(acc, point=f"{SCRATCH}-{s}")["labels"]) for s in common}
    return sorted(common, key=lpc.get)


TEST = dict(condition="test", metric="accuracy")


def gain(table: pd.DataFrame, examples: dict, point_a: str, point_b: str) -> tuple[float, float, float]:
    """Test accuracy of ``point_a`` minus ``point_b``: mean and 95 % interval paired on seeds and test examples."""
    return paired_difference(*paired_matrices(table, examples, dict(point=point_a, **TEST), dict(point=point_b, **TEST)))


def verdict(table: pd.DataFrame, summary: pd.DataFrame, thresholds: dict, examples: dict) -> dict:
    table = table[table["status"] == "ok"]
    acc = select(summary, **TEST)
    order = sizes(summary)
    lpc = {s: float(one_row(acc, point=f"{SCRATCH}-{s}")["labels"]) for s in order}
    few = min(order, key=lambda s: abs(np.log(lpc[s] / FEW_LABELS)))  # by design, not by result
    full = order[-1]
    evidence = [
        Check(f"gain of fine-tuning the pretrained net over scratch, {lpc[few]:.0f} labels per class "
              "(paired on seeds and test examples)",
              *gain(table, examples, f"{FINETUNE}-{few}", f"{SCRATCH}-{few}"),
              thresholds["few_label_gain_min"], ">=", "pretraining makes few labels go further"),
        Check(f"loss from pretraining with all labels ({lpc[full]:.0f} per class): scratch minus fine-tuned "
              "(paired on seeds and test examples)",
              *gain(table, examples, f"{SCRATCH}-{full}", f"{FINETUNE}-{full}"),
              thresholds["full_data_loss_max"], "<=", "pretraining does not hurt when labels are plentiful"),
    ]
    result = decide(evidence, invariants(table))
    result["note"] = _note(table, summary, examples, order, lpc)
    return result


def invariants(table: pd.DataFrame) -> list[Check]:
    """Every arm of a training-set size trains on the same number of labels per class (per seed)."""
    lpc = select(table, condition="data", metric="labels_per_class")
    lpc = lpc[lpc["point"].map(arm_of).isin([SCRATCH, FINETUNE, FROZEN])]
    if lpc.empty:
        return []
    spread = lpc.assign(size=lpc["point"].str.split("-", n=1).str[1]).groupby(["size", "seed"])["value"]
    dev = float((spread.max() - spread.min()).max())
    return [Check("labels per class across the arms of one size and seed: max minus min", dev, dev, dev, 0.0, "<=",
                  "scratch, fine-tuned and frozen runs of a size see equally many target labels")]


def _note(table, summary, examples, order, lpc) -> str:
    acc = select(summary, **TEST)
    parts = []
    src = select(table, point="source", **TEST)
    if len(src):
        if "examples" in src and src["examples"].notna().all():
            m, lo, hi = two_way_interval(example_matrix(src, examples))
            parts.append(f"The source net reaches {m:.3f} [{lo:.3f}, {hi:.3f}] test accuracy on digits 0-5 "
                         "(95 % interval over seeds and test examples).")
        else:
            parts.append(f"The source net reaches {float(src['value'].mean()):.3f} test accuracy on digits 0-5.")

    def gain_text(arm, s):
        m, lo, hi = gain(table, examples, f"{arm}-{s}", f"{SCRATCH}-{s}")
        return f"{m:+.3f} [{lo:+.3f}, {hi:+.3f}]"

    for s in order:
        if f"{FROZEN}-{s}" in set(acc["point"]):
            parts.append(f"{lpc[s]:.0f} label{'' if lpc[s] == 1 else 's'} per class: fine-tuned {gain_text(FINETUNE, s)}, "
                         f"frozen backbone {gain_text(FROZEN, s)} accuracy over scratch (95 % interval over seeds and "
                         "test examples).")
    if len(src):
        parts.append("Embedded-scale caveat: the source task is small (2,100 digits), so this measures transfer "
                     "between related digit tasks, not the ImageNet-scale pretraining of the full scale.")
    else:
        parts.append("Pretrained weights: timm's ImageNet weights (no source run of the workflow); every arm sees "
                     "the images resized and normalised as the weights expect. The frozen backbone is a linear "
                     "probe: only the re-initialised classifier trains, batch-norm statistics stay ImageNet's.")
    return " ".join(parts)


def key_table(summary: pd.DataFrame) -> pd.DataFrame:
    acc = select(summary, condition="test", metric="accuracy")
    acc = acc[acc["point"].map(arm_of).isin([SCRATCH, FINETUNE, FROZEN])]
    wide = acc.pivot_table(index="labels", columns="arm", values="mean", sort=False)
    gain = select(summary, condition="gain", metric="accuracy_gain")
    gain = gain[gain["point"].map(arm_of) == FINETUNE].set_index("labels")
    wide["fine-tuning gain [95 % CI over seeds]"] = [f"{r['mean']:+.3f} [{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]"
                                         for _, r in gain.reindex(wide.index).iterrows()]
    wide.index = [f"{v:.0f}" for v in wide.index]
    return wide.sort_index(key=lambda i: i.astype(float)).rename_axis("labels per class").reset_index()

