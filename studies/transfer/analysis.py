"""transfer: tables and verdict (pandas only) for pretrained vs from-scratch ResNets over target
training-set sizes; full fine-tuning vs frozen backbone."""
from __future__ import annotations

import numpy as np
import pandas as pd

from convstudies.stats import one_row, paired, select
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


def verdict(table: pd.DataFrame, summary: pd.DataFrame, thresholds: dict) -> dict:
    table = table[table["status"] == "ok"]
    acc = select(summary, condition="test", metric="accuracy")
    order = sizes(summary)
    lpc = {s: float(one_row(acc, point=f"{SCRATCH}-{s}")["labels"]) for s in order}
    few = min(order, key=lambda s: abs(np.log(lpc[s] / FEW_LABELS)))
    full = order[-1]
    test = dict(condition="test", metric="accuracy")
    checks = [
        Check(f"gain of fine-tuning the pretrained net over scratch, {lpc[few]:.0f} labels per class",
              *paired(table, f"{FINETUNE}-{few}", f"{SCRATCH}-{few}", **test),
              thresholds["few_label_gain_min"], ">=", "pretraining makes few labels go further"),
        Check(f"loss from pretraining with all labels ({lpc[full]:.0f} per class): scratch minus fine-tuned",
              *paired(table, f"{SCRATCH}-{full}", f"{FINETUNE}-{full}", **test),
              thresholds["full_data_loss_max"], "<=", "pretraining does not hurt when labels are plentiful"),
    ]
    result = decide(checks)
    result["note"] = _note(table, summary, order, lpc)
    return result


def _note(table, summary, order, lpc) -> str:
    acc = select(summary, condition="test", metric="accuracy")
    parts = []
    src = select(acc, point="source")
    if len(src) == 1:
        parts.append(f"The source net reaches {src['mean'].iloc[0]:.3f} test accuracy on digits 0-5.")

    def gain_text(arm, s):
        m, lo, hi = paired(table, f"{arm}-{s}", f"{SCRATCH}-{s}", condition="test", metric="accuracy")
        return f"{m:+.3f} [{lo:+.3f}, {hi:+.3f}]"

    for s in order:
        if f"{FROZEN}-{s}" in set(acc["point"]):
            parts.append(f"{lpc[s]:.0f} label{'' if lpc[s] == 1 else 's'} per class: fine-tuned {gain_text(FINETUNE, s)}, frozen backbone "
                         f"{gain_text(FROZEN, s)} accuracy over scratch (95 % CI).")
    parts.append("Embedded-scale caveat: the source task is small (2,100 digits), so this measures transfer "
                 "between related digit tasks, not the ImageNet-scale pretraining of the full scale.")
    return " ".join(parts)


def key_table(summary: pd.DataFrame) -> pd.DataFrame:
    acc = select(summary, condition="test", metric="accuracy")
    acc = acc[acc["point"].map(arm_of).isin([SCRATCH, FINETUNE, FROZEN])]
    wide = acc.pivot_table(index="labels", columns="arm", values="mean", sort=False)
    gain = select(summary, condition="gain", metric="accuracy_gain")
    gain = gain[gain["point"].map(arm_of) == FINETUNE].set_index("labels")
    wide["fine-tuning gain [95 % CI]"] = [f"{r['mean']:+.3f} [{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]"
                                         for _, r in gain.reindex(wide.index).iterrows()]
    wide.index = [f"{v:.0f}" for v in wide.index]
    return wide.sort_index(key=lambda i: i.astype(float)).rename_axis("labels per class").reset_index()

