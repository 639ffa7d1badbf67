"""Verdicts from pre-registered thresholds: every check must clear its threshold with its CI.

A check compares an estimate (with a 95 % CI over seeds) to a threshold. The claim
``holds`` when every check passes with its whole CI on the passing side; it ``does not
hold`` when some check fails with its whole CI on the failing side; otherwise it is
``inconclusive`` (the CI straddles a threshold: more seeds or a larger scale would decide).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

HOLDS, NOT_HOLDS, INCONCLUSIVE = "holds", "does not hold", "inconclusive"


@dataclass
class Check:
    name: str
    estimate: float
    ci_low: float
    ci_high: float
    threshold: float
    direction: str  # ">=": the estimate must be at least the threshold; "<=": at most
    meaning: str = ""

    def outcome(self) -> str:
        lo, hi = self.ci_low, self.ci_high
        if not all(math.isfinite(v) for v in (self.estimate, lo, hi)):
            return INCONCLUSIVE
        passing = lo >= self.threshold if self.direction == ">=" else hi <= self.threshold
        failing = hi < self.threshold if self.direction == ">=" else lo > self.threshold
        return "pass" if passing else ("fail" if failing else INCONCLUSIVE)


def decide(checks: list[Check]) -> dict:
    outcomes = [c.outcome() for c in checks]
    if outcomes and all(o == "pass" for o in outcomes):
        verdict = HOLDS
    elif "fail" in outcomes:
        verdict = NOT_HOLDS
    else:
        verdict = INCONCLUSIVE
    return {"verdict": verdict,
            "evidence": [{**asdict(c), "outcome": o} for c, o in zip(checks, outcomes)]}


def check_from(summary_row, name: str, threshold: float, direction: str, meaning: str = "") -> Check:
    """A check from one summary row (columns mean, ci_low, ci_high)."""
    return Check(name, float(summary_row["mean"]), float(summary_row["ci_low"]), float(summary_row["ci_high"]),
                 float(threshold), direction, meaning)
