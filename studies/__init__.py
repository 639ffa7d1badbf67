"""Studies: one directory per lecture claim, imported as ``convstudies.studies.<id>``.

A study directory holds, split by what each part imports:

- ``study.yaml``: claim, description, pre-registered thresholds, grid, scales (with development
  and confirmation seeds), figure captions, and the ``history`` of reworks made after results
  were seen (schema: ``workflow/schemas/study.schema.yaml``);
- ``registration.yaml``: written by ``convstudies register ID`` and committed before the
  confirmation runs (``convstudies.registration``);
- ``evaluations.py`` (optional, torch): functions registered with
  ``@convstudies.evaluations.register_evaluation``, run on each trained model inside its
  training job; they return tidy rows, and a row of a test-set number carries
  ``per_example`` (one value per test example);
- ``analysis.py`` (pandas, no torch, no matplotlib): ``derive(table) -> table`` (optional,
  extra per-run rows), ``key_table(summary) -> DataFrame`` (the table the report shows) and
  ``verdict(table, summary, thresholds, examples) -> decide(evidence, invariants) [+ "note"]``,
  which reads each threshold as ``thresholds["name"]``; ``examples`` maps the table's
  ``examples`` keys to per-example values, from which test-set evidence gets intervals that
  count seeds and test examples (``convstudies.intervals``); any selection reads validation
  numbers (``final``/``val_acc``), never the test split;
- ``figures.py`` (matplotlib/seaborn, no torch): one function per figure named in the study
  file, ``fn(table, summary) -> Figure``; helpers start with ``_``.

The workflow checks this contract while it plans (``convstudies.contract``): every
evaluation, model and dataset named is registered and takes the arguments given, every
figure has its function, every threshold the verdict reads is registered and every
registered threshold is read.
"""
