"""gemcont: GEMCONT end to end. See README.md; configuration in config/README.md."""

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/panel.smk"
include: "workflow/rules/phenotypes.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/gwas.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/rotation.smk"


rule all:
    default_target: True
    input:
        rules.build_report.output.html,
