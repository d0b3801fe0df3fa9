rule simulate_genetics:
    output:
        bed=f"{SIM}/genotypes/cohort.bed",
        bim=f"{SIM}/genotypes/cohort.bim",
        fam=f"{SIM}/genotypes/cohort.fam",
        covariates=f"{SIM}/covariates.tsv",
        disease=f"{SIM}/disease.tsv",
        sumstats=f"{SIM}/external_gwas/sumstats.tsv.gz",
        more_sumstats=more_external_sumstats(),
        causal=f"{SIM}/truth/causal_variants.tsv",
        latent=f"{SIM}/truth/latent_traits.tsv",
        summary=f"{SIM}/truth/summary.json",
    log:
        "logs/simulate/genetics.log",
    benchmark:
        "logs/benchmarks/simulate/genetics.tsv"
    conda:
        "../../envs/gemcont.yaml"
    threads: 2
    resources:
        mem_mb=requested("simulate_genetics", "mem_mb"),
        runtime=requested("simulate_genetics", "runtime"),
    params:
        simulate=config["simulate"],
    script:
        "../../scripts/simulate_genetics.py"


rule simulate_imputed:
    input:
        bed=rules.simulate_genetics.output.bed,
        bim=rules.simulate_genetics.output.bim,
        fam=rules.simulate_genetics.output.fam,
    output:
        pgen=multiext(SIM_PGEN.removesuffix(".pgen"), ".pgen", ".pvar", ".psam"),
        bgen=expand(SIM_BGEN, chrom=simulated_variants()),
        sample=expand(
            SIM_BGEN.removesuffix(".bgen") + ".sample", chrom=simulated_variants()
        ),
    log:
        "logs/simulate/imputed.log",
    benchmark:
        "logs/benchmarks/simulate/imputed.tsv"
    conda:
        "../../envs/gemcont.yaml"
    threads: 2
    resources:
        mem_mb=requested("simulate_imputed", "mem_mb", variants=largest_chromosome()),
        runtime=requested("simulate_imputed", "runtime", variants=largest_chromosome()),
    params:
        simulate=config["simulate"],
        bgen=lambda wc: SIM_BGEN,  # a function: {chrom} is no wildcard here
    script:
        "../../scripts/simulate_imputed.py"


rule simulate_spirometry:
    input:
        covariates=rules.simulate_genetics.output.covariates,
        latent=rules.simulate_genetics.output.latent,
    output:
        table=f"{SIM}/spirometry/ukb_3066.tsv",
        markers=f"{SIM}/spirometry/markers.tsv",
        plot=report(
            f"{SIM}/qc/flow_volume_curves.png",
            caption="../report/flow_volume.rst",
            category="Simulated cohort",
        ),
    log:
        "logs/simulate/spirometry.log",
    benchmark:
        "logs/benchmarks/simulate/spirometry.tsv"
    conda:
        "../../envs/gemcont.yaml"
    resources:
        mem_mb=requested("simulate_spirometry", "mem_mb"),
        runtime=requested("simulate_spirometry", "runtime"),
    params:
        simulate=config["simulate"],
    script:
        "../../scripts/simulate_spirometry.py"


rule simulate_fundus:
    input:
        covariates=rules.simulate_genetics.output.covariates,
        latent=rules.simulate_genetics.output.latent,
    output:
        images=directory(f"{SIM}/fundus/images"),
        manifest=f"{SIM}/fundus/manifest.tsv",
        markers=f"{SIM}/fundus/cup_to_disc.tsv",
        sheet=report(
            f"{SIM}/qc/fundus_contact_sheet.png",
            caption="../report/fundus_contact_sheet.rst",
            category="Simulated cohort",
        ),
    log:
        "logs/simulate/fundus.log",
    benchmark:
        "logs/benchmarks/simulate/fundus.tsv"
    conda:
        "../../envs/gemcont.yaml"
    threads: 2
    resources:
        mem_mb=requested("simulate_fundus", "mem_mb"),
        runtime=requested("simulate_fundus", "runtime"),
    params:
        simulate=config["simulate"],
    script:
        "../../scripts/simulate_fundus.py"


rule simulate:
    input:
        rules.simulate_genetics.output,
        lambda wc: (
            rules.simulate_imputed.output
            if config["simulate"]["imputed"]["enabled"]
            else []
        ),
        lambda wc: (
            rules.simulate_spirometry.output
            if config["simulate"]["spirometry"]["enabled"]
            else []
        ),
        lambda wc: (
            rules.simulate_fundus.output
            if config["simulate"]["fundus"]["enabled"]
            else []
        ),
