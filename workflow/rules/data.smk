rule prepare_data:
    output:
        f"{RES}/data/{{dataset}}.pt",
    log:
        f"{RES}/logs/prepare_data/{{dataset}}.log",
    resources:
        mem_mb=2000,
        runtime=20,
    conda:
        ENV
    shell:
        "python -m convstudies.data {wildcards.dataset} {output} > {log} 2>&1"
