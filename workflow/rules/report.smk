rule report_markdown:
    input:
        claims=expand(f"{RES}/claims/{{study}}.json", study=list(PLAN)),
        figures=[f"{RES}/figures/{s}" for s in PLAN if figures(s)],
    output:
        f"{RES}/REPORT.md",
    params:
        scale=config["scale"],
    log:
        f"{RES}/logs/report.log",
    conda:
        ENV
    shell:
        "python -m convstudies report --claims {input.claims:q} --scale {params.scale}"
        " --out {output:q} > {log:q} 2>&1"
