"""gemcont: GEMCONT end to end. See README.md; configuration in config/README.md."""

from snakemake.utils import min_version

min_version("9.0")


# The demo (config/config.yaml) is the configuration only when the command line names
# none: a --configfile replaces it instead of being layered over it, so a template never
# inherits the demo's 2 splits or short CPU schedule (keys a file leaves out take the
# schema's defaults, the paper's). Jobs Snakemake spawns (SLURM) get the same
# --configfiles, so they decide alike. Layer explicitly where wanted:
# --configfile config/config.yaml mine.yaml.
if not workflow.overwrite_configfiles:

    configfile: f"{workflow.basedir}/config/config.yaml"


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
