# Analysis steps import pandas/matplotlib and the study's analysis or figures module, never torch.
rule tables:
    input:
        entry_summaries,
    output:
        table=report(f"{RES}/tables/{{study}}.csv", caption="../report/table.rst", category="{study}"),
        summary=f"{RES}/tables/{{study}}_summary.csv",
    log:
        f"{RES}/logs/tables/{{study}}.log",
    conda:
        ENV
    shell:
        "python -m convstudies tables --study {wildcards.study} --summaries {input:q}"
        " --table {output.table:q} --summary {output.summary:q} > {log:q} 2>&1"


# One job draws every figure of a study (one process, one matplotlib import).
rule figures:
    input:
        table=f"{RES}/tables/{{study}}.csv",
        summary=f"{RES}/tables/{{study}}_summary.csv",
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
    output:
        report(f"{RES}/claims/{{study}}.json", caption="../report/claim.rst", category="{study}"),
    log:
        f"{RES}/logs/verdict/{{study}}.log",
    conda:
        ENV
    shell:
        "python -m convstudies verdict --study {wildcards.study}"
        " --table {input.table:q} --summary {input.summary:q} --out {output:q} > {log:q} 2>&1"
