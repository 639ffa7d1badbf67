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
        "python -m convstudies prepare-data {wildcards.dataset} {output:q} --root {params.root:q} > {log:q} 2>&1"
