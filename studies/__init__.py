"""Studies: one YAML (grid, scales, thresholds, figures) and one module each.

A study module provides
  - ``key_table(summary) -> DataFrame``: the table the report shows;
  - ``verdict(table, summary, thresholds) -> {"verdict", "evidence", ["note"]}``;
  - one function per figure named in the YAML: ``fn(table, summary) -> Figure``;
  - optionally ``derive(table) -> table`` (extra per-run rows) and evaluations registered
    with ``convstudies.engine.evaluations.register_evaluation``.
Modules import torch only inside evaluations, so tables and figures stay light.
"""
