# One job per grid entry: all its points and seeds in one process (torch imported once); with
# train_jobs: seed, one job per grid entry and seed (seeds side by side on a cluster or several GPUs).
# Finished runs are kept and skipped when a job is rerun, so an interrupted job resumes.


rule train:
    input:
        entry_inputs,
    output:
        f"{RES}/runs/{{study}}/{TRAIN_JOB}.json",
    log:
        f"{RES}/logs/train/{{study}}/{TRAIN_JOB}.log",
    params:
        scale=config["scale"],
        phase=config["phase"],
        # per-epoch checkpoints: on, off or as each run's train.checkpoint (config null: on at the full scale)
        checkpoints=checkpoint_mode(config),
        seeds=seeds_arg,
        fail=fail_runs_arg,
        runs_dir=lambda wc: f"{RES}/runs/{wc.study}",
        data_dir=f"{RES}/data",
        accelerator=config["accelerator"],
        precision=config["precision"],
        jobs_per_gpu=config["jobs_per_gpu"],
        # not used by the command: a changed config or code of the entry's runs redoes the job
        key=entry_key,
    threads: config["threads_per_job"]
    resources:
        mem_mb=3000,
        runtime=60,
        # GPUs per training job on a cluster (SLURM: sbatch --gpus); --config accelerator=gpu asks for one
        gpu=1 if config["accelerator"] == "gpu" else 0,
    conda:
        ENV
    shell:
        "python -m convstudies train-entry --study {wildcards.study} --entry {wildcards.entry}"
        " --scale {params.scale} --phase {params.phase} --seeds {params.seeds} --runs-dir {params.runs_dir:q}"
        " --summary {output:q} --data {params.data_dir:q} --threads {threads}"
        " --accelerator {params.accelerator} --precision {params.precision} {params.fail}"
        " --jobs-per-gpu {params.jobs_per_gpu} --checkpoints {params.checkpoints}"
        " > {log:q} 2>&1"
