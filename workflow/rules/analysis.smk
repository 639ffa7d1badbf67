# Analysis steps import pandas/matplotlib and the study's analysis or figures module, never torch.
rule tables:
    input:
        summaries=entry_summaries,
        study=study_sources("analysis.py"),
    output:
        table=report(f"{RES}/tables/{{study}}.csv", caption="../report/table.rst", category="{study}"),
        summary=f"{RES}/tables/{{study}}_summary.csv",
        examples=f"{RES}/tables/{{study}}_examples.npz",
        runs=f"{RES}/tables/{{study}}_runs.csv",
    log:
        f"{RES}/logs/tables/{{study}}.log",
    conda:
        ENV
    shell:
        "python -m convstudies tables --study {wildcards.study} --summaries {input.summaries:q}"
        " --table {output.table:q} --summary {output.summary:q} --examples {output.examples:q}"
        " --runs {output.runs:q} > {log:q} 2>&1"


# One job draws every figure of a study (one process, one matplotlib import).
rule figures:
    input:
        table=f"{RES}/tables/{{study}}.csv",
        summary=f"{RES}/tables/{{study}}_summary.csv",
        study=study_sources("analysis.py", "figures.py"),
    output:
        report(
            directory(f"{RES}/figures/{{study}}"),
            patterns=["{figure}.png"],
            caption="../report/figure.rst",
            category="{study}",
            labels={"study": "{study}", "figure": "{figure}"},
        ),
    params:
        captions=figure_captions,
        outs=figure_outs,
    log:
        f"{RES}/logs/figures/{{study}}.log",
    conda:
        ENV
    shell:
        "python -m convstudies figures --study {wildcards.study}"
        " --table {input.table:q} --summary {input.summary:q} --out {params.outs} > {log:q} 2>&1"


rule verdict:
    input:
        table=f"{RES}/tables/{{study}}.csv",
        summary=f"{RES}/tables/{{study}}_summary.csv",
        examples=f"{RES}/tables/{{study}}_examples.npz",
        runs=f"{RES}/tables/{{study}}_runs.csv",
        study=study_sources("study.yaml", "analysis.py", "registration.yaml"),
    output:
        report(f"{RES}/claims/{{study}}.json", caption="../report/claim.rst", category="{study}"),
    params:
        scale=config["scale"],
        phase=config["phase"],
        overridden="--seeds-overridden" if config["seeds"] else "",
    log:
        f"{RES}/logs/verdict/{{study}}.log",
    conda:
        ENV
    shell:
        "python -m convstudies verdict --study {wildcards.study} --table {input.table:q}"
        " --summary {input.summary:q} --examples {input.examples:q} --runs {input.runs:q}"
        " --scale {params.scale} --phase {params.phase} {params.overridden} --out {output:q} > {log:q} 2>&1"
