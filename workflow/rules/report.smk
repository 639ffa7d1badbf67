rule report_markdown:
    input:
        claims=expand(f"{RES}/claims/{{study}}.json", study=list(PLAN)),
        figures=[f"{RES}/figures/{s}" for s in PLAN if figures(s)],
    output:
        md=f"{RES}/REPORT.md",
        # the verdict table of the HTML report's front page (workflow/report/workflow.rst includes it)
        front=f"{RES}/REPORT.verdicts.rst",
    params:
        scale=config["scale"],
    log:
        f"{RES}/logs/report.log",
    conda:
        ENV
    shell:
        "python -m convstudies report --claims {input.claims:q} --scale {params.scale}"
        " --out {output.md:q} > {log:q} 2>&1"
