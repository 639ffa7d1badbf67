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
        "python -m convstudies.analysis tables --study {wildcards.study} --summaries {input}"
        " --table {output.table} --summary {output.summary} > {log} 2>&1"


rule figure:
    input:
        table=f"{RES}/tables/{{study}}.csv",
        summary=f"{RES}/tables/{{study}}_summary.csv",
    output:
        report(
            f"{RES}/figures/{{study}}/{{figure}}.png",
            caption="../report/figure.rst",
            category="{study}",
            labels={"study": "{study}", "figure": "{figure}"},
        ),
    params:
        caption=figure_caption,
    log:
        f"{RES}/logs/figure/{{study}}/{{figure}}.log",
    conda:
        ENV
    shell:
        "python -m convstudies.analysis figure --study {wildcards.study} --figure {wildcards.figure}"
        " --table {input.table} --summary {input.summary} --out {output} > {log} 2>&1"


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
        "python -m convstudies.analysis verdict --study {wildcards.study}"
        " --table {input.table} --summary {input.summary} --out {output} > {log} 2>&1"
