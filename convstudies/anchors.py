"""Published numbers beside ours, and whether the comparison is like for like. No torch.

Each anchor of a study file names the paper's value, the grid point of ours it compares with,
and ``requires``: what the paper's protocol needs, as dotted keys of the resolved run
configuration (``data.dataset``, ``train.min_steps``, ...) plus ``scale`` and ``phase``, each
with the value it must have. ``comparable`` is derived from the configuration the runs were
resolved from, never set by hand; an anchor that states no requirement is never comparable.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .config import expand_points, schema
from .intervals import two_way_interval
from .stats import example_matrix, select


def anchor_point(anchor: dict, scale: str) -> str | None:
    """The grid point an anchor compares with at a scale (None: no counterpart at this scale)."""
    point = anchor["point"]
    return point.get(scale) if isinstance(point, dict) else point


def _lookup(cfg: dict, dotted: str):
    node = cfg
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return KeyError
        node = node[part]
    return node


def _is_run_key(dotted: str) -> bool:
    """Whether a dotted key names a setting of the run configuration's schema (set or not)."""
    node = schema("study")["$defs"]["run"]
    for part in dotted.split("."):
        props = node.get("properties", {})
        if part not in props:
            return False
        node = props[part]
    return True


def unmet_requirements(requires: dict, cfg: dict, scale: str, phase: str) -> list[str]:
    """Each requirement of an anchor that the resolved configuration does not meet, in words."""
    if not requires:
        return ["the anchor states no requirements (`requires` in the study file)"]
    context = {"scale": scale, "phase": phase}
    unmet = []
    for key, want in requires.items():
        have = context[key] if key in context else _lookup(cfg, key)
        if have is KeyError and not _is_run_key(key):
            unmet.append(f"{key} is not a key of the run configuration")
        elif have is KeyError:
            unmet.append(f"{key} is not set; the paper's protocol needs {want!r}")
        elif have != want:
            unmet.append(f"{key} is {have!r}; the paper's protocol needs {want!r}")
    return unmet


def _ours(anchor: dict, point: str, table: pd.DataFrame, summary: pd.DataFrame,
          examples: dict) -> tuple[float, float, float, str]:
    """Our mean and 95 % interval for the anchor's point: over seeds and test examples where the
    runs kept per-example values, else over seeds only (the summary's t-interval)."""
    conds = {"point": point, "condition": anchor.get("condition", "test"), "metric": anchor["metric"]}
    if examples and not select(table, **conds).empty:
        try:
            m, lo, hi = two_way_interval(example_matrix(table, examples, **conds))
            return float(m), float(lo), float(hi), "seeds and test examples"
        except ValueError:
            pass
    hit = select(summary, **conds)
    if len(hit) != 1:
        return np.nan, np.nan, np.nan, "no result"
    row = hit.iloc[0]
    return float(row["mean"]), float(row["ci_low"]), float(row["ci_high"]), "seeds"


def anchors(spec: dict, table: pd.DataFrame, summary: pd.DataFrame, examples: dict, scale: str,
            phase: str) -> list[dict]:
    """The claims JSON's ``anchors``: every anchor with a point at this scale, ours in percent."""
    points = expand_points(spec, scale, f"study {spec['study']}", phase=phase)
    out = []
    for a in spec.get("anchors", []):
        point = anchor_point(a, scale)
        if point is None:
            continue
        if point not in points:
            raise ValueError(f"study {spec['study']}: anchor {a['name']!r} names point {point!r}, "
                             f"which the {scale} grid does not have; points: {', '.join(points)}")
        m, lo, hi, over = _ours(a, point, table, summary, examples)
        if a.get("as", "accuracy") == "error":
            m, lo, hi = 1 - m, 1 - hi, 1 - lo
        unmet = unmet_requirements(a.get("requires", {}), points[point]["config"], scale, phase)
        out.append({"name": a["name"], "paper": a["paper"], "source": a["source"], "point": point,
                    "ours": 100 * m, "ours_ci_low": 100 * lo, "ours_ci_high": 100 * hi,
                    "interval_over": over, "as": a.get("as", "accuracy"), "scale": scale,
                    "comparable": not unmet, "unmet": unmet})
    return out


def anchor_table(claim_anchors: list[dict]) -> pd.DataFrame:
    """The report's anchor table: ours beside the paper's, and whether they compare like for like."""
    rows = [{"": a["name"], f"ours ({a['scale']}) %": a["ours"],
             "95 % CI": f"[{a['ours_ci_low']:.2f}, {a['ours_ci_high']:.2f}]", "paper %": a["paper"],
             "difference": a["ours"] - a["paper"],
             "comparable": "yes" if a["comparable"] else "no: " + "; ".join(a["unmet"]),
             "source": a["source"]} for a in claim_anchors]
    return pd.DataFrame(rows)
