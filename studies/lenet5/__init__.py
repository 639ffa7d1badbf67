"""The ``lenet5`` study: see study.yaml (claim, design), evaluations.py (torch), analysis.py (tables, verdict), figures.py."""
