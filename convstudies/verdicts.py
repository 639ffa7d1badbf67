"""Verdicts from pre-registered thresholds: every piece of evidence must clear its threshold with its CI.

A check compares an estimate (with a 95 % CI) to a threshold. **Evidence** is a check whose
outcome depends on training (it would differ for an untrained model or across seeds); its
interval counts seed variation and, for test-set numbers, test-set sampling
(:mod:`convstudies.intervals`). **Invariants** are exact properties (formulas, gradients,
parameter arithmetic, constructions): reported, and unit-tested, but not evidence.

The claim ``holds`` when every piece of evidence passes with its whole CI on the passing
side; it ``does not hold`` when some evidence fails with its whole CI on the failing side;
otherwise it is ``inconclusive`` (a CI straddles a threshold). A failed invariant makes the
claim ``inconclusive``: the measurement itself is then in doubt.
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


def decide(evidence: list[Check], invariants: list[Check] = ()) -> dict:
    """The verdict from the evidence alone; invariants are reported (a failed one makes it inconclusive)."""
    outcomes = [c.outcome() for c in evidence]
    inv_outcomes = [c.outcome() for c in invariants]
    if not evidence:
        raise ValueError("a verdict needs at least one piece of evidence (an empirical check that could fail)")
    if all(o == "pass" for o in outcomes):
        verdict = HOLDS
    elif "fail" in outcomes:
        verdict = NOT_HOLDS
    else:
        verdict = INCONCLUSIVE
    if any(o != "pass" for o in inv_outcomes):
        verdict = INCONCLUSIVE
    return {"verdict": verdict,
            "evidence": [{**asdict(c), "outcome": o} for c, o in zip(evidence, outcomes)],
            "invariants": [{**asdict(c), "outcome": o} for c, o in zip(invariants, inv_outcomes)]}


def check_from(summary_row, name: str, threshold: float, direction: str, meaning: str = "") -> Check:
    """A check from one summary row (columns mean, ci_low, ci_high)."""
    return Check(name, float(summary_row["mean"]), float(summary_row["ci_low"]), float(summary_row["ci_high"]),
                 float(threshold), direction, meaning)
