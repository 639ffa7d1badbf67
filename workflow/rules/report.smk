rule report_markdown:
    input:
        claims=expand(f"{RES}/claims/{{study}}.json", study=list(PLAN)),
        figures=[f"{RES}/figures/{s}/{f}.png" for s in PLAN for f in figures(s)],
    output:
        f"{RES}/REPORT.md",
    params:
        scale=config["scale"],
    log:
        f"{RES}/logs/report.log",
    conda:
        ENV
    shell:
        "python -m convstudies.analysis report --claims {input.claims} --scale {params.scale}"
        " --out {output} > {log} 2>&1"
