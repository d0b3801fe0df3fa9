# The rotation simulation of the paper's Fig. 2 (a separate target, not part of `all`):
#   snakemake --cores all fig2 --configfile config/fig2_cpu.yaml
from gemcont.rotation.jobs import SWEEP_AXES, memory_mb, metrics_paths
from gemcont.rotation.settings import build_rotation, run_section

ROT = build_rotation(config["rotation"])
ROT_RUN = run_section(config["rotation"])
ROT_DIR = "results/rotation"


rule rotation_point:
    output:
        metrics=f"{ROT_DIR}/runs/{{axis}}/{{value}}/{{method}}/seed_{{seed}}/metrics.tsv",
        training=f"{ROT_DIR}/runs/{{axis}}/{{value}}/{{method}}/seed_{{seed}}/training.tsv",
    log:
        "logs/rotation/{axis}/{value}/{method}/seed_{seed}.log",
    benchmark:
        "logs/benchmarks/rotation/{axis}/{value}/{method}/seed_{seed}.tsv"
    wildcard_constraints:
        axis="|".join(["default", *SWEEP_AXES]),
        value=r"[0-9.e+-]+|default",
        seed=r"\d+",
    conda:
        "../../envs/gemcont.yaml"
    threads: 2
    resources:
        gpu=1 if ROT.train["device"] != "cpu" else 0,
        mem_mb=lambda wc, attempt: attempt * memory_mb(ROT),
        runtime=lambda wc, attempt: attempt * 600,
    params:
        rotation=ROT_RUN,
    script:
        "../../scripts/rotation_point.py"


rule rotation_collect:
    input:
        metrics=metrics_paths(ROT, ROT_DIR),
    output:
        metrics=f"{ROT_DIR}/fig2_metrics.tsv",
        summary=f"{ROT_DIR}/fig2_summary.tsv",
    log:
        "logs/rotation/collect.log",
    benchmark:
        "logs/benchmarks/rotation/collect.tsv"
    conda:
        "../../envs/gemcont.yaml"
    resources:
        mem_mb=requested("rotation_collect", "mem_mb"),
        runtime=requested("rotation_collect", "runtime"),
    script:
        "../../scripts/rotation_collect.py"


rule rotation_figure:
    input:
        summary=rules.rotation_collect.output.summary,
    output:
        png=report(
            f"{ROT_DIR}/fig2.png",
            caption="../report/fig2.rst",
            category="Rotation simulation",
        ),
        pdf=f"{ROT_DIR}/fig2.pdf",
    log:
        "logs/rotation/figure.log",
    benchmark:
        "logs/benchmarks/rotation/figure.tsv"
    conda:
        "../../envs/gemcont.yaml"
    resources:
        mem_mb=requested("rotation_figure", "mem_mb"),
        runtime=requested("rotation_figure", "runtime"),
    params:
        rotation=ROT_RUN,
    script:
        "../../scripts/rotation_figure.py"


rule fig2:
    input:
        rules.rotation_collect.output,
        rules.rotation_figure.output,
