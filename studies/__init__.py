"""Studies: one directory per lecture claim, imported as ``convstudies.studies.<id>``.

A study directory holds, split by what each part imports:

- ``study.yaml``: claim, description, pre-registered thresholds, grid, scales, figure captions
  (schema: ``workflow/schemas/study.schema.yaml``);
- ``evaluations.py`` (optional, torch): functions registered with
  ``@convstudies.evaluations.register_evaluation``, run on each trained model inside its
  training job; they return tidy rows;
- ``analysis.py`` (pandas, no torch, no matplotlib): ``derive(table) -> table`` (optional,
  extra per-run rows), ``key_table(summary) -> DataFrame`` (the table the report shows) and
  ``verdict(table, summary, thresholds) -> {"verdict", "evidence", ["note"]}``, which reads
  each threshold as ``thresholds["name"]``;
- ``figures.py`` (matplotlib/seaborn, no torch): one function per figure named in the study
  file, ``fn(table, summary) -> Figure``; helpers start with ``_``.

The workflow checks this contract while it plans (``convstudies.contract``): every
evaluation, model and dataset named is registered and takes the arguments given, every
figure has its function, every threshold the verdict reads is registered and every
registered threshold is read.
"""
