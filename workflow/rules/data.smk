rule prepare_data:
    output:
        f"{RES}/data/{{dataset}}.pt",
    log:
        f"{RES}/logs/prepare_data/{{dataset}}.log",
    params:
        root=config["data_root"],
    resources:
        mem_mb=2000,
        runtime=20,
    conda:
        ENV
    shell:
        "python -m convstudies.data {wildcards.dataset} {output} --root {params.root} > {log} 2>&1"
