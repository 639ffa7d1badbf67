# convstudies: every claim of a classic CNN lecture as a measured, re-runnable study.
# Usage: snakemake                 (embedded scale, every study; see config/README.md)
#        snakemake --report results/report.html
from snakemake.utils import min_version, validate

from convstudies.config import refuse_bad_config

min_version("9.0")


configfile: f"{workflow.basedir}/config/config.yaml"


refuse_bad_config(config)  # one readable message (file, key, what is allowed) before any schema dump
validate(config, "workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        all_outputs(),
