rule simulate_genetics:
    output:
        bed=f"{SIM}/genotypes/cohort.bed",
        bim=f"{SIM}/genotypes/cohort.bim",
        fam=f"{SIM}/genotypes/cohort.fam",
        covariates=f"{SIM}/covariates.tsv",
        disease=f"{SIM}/disease.tsv",
        sumstats=f"{SIM}/external_gwas/sumstats.tsv.gz",
        causal=f"{SIM}/truth/causal_variants.tsv",
        latent=f"{SIM}/truth/latent_traits.tsv",
        summary=f"{SIM}/truth/summary.json",
    params:
        simulate=config["simulate"],
    threads: 2
    resources:
        mem_mb=lambda wc: 2000 + config["simulate"]["external_gwas"]["n_people"] // 10,
    log:
        "logs/simulate/genetics.log",
    benchmark:
        "benchmarks/out/simulate/genetics.tsv"
    conda:
        "../../envs/gemcont.yaml"
    script:
        "../../scripts/simulate_genetics.py"
