include: "gwas_common.smk"


GWAS = "results/gwas/{method}/split_{split}"
# one genotype scan per split and chromosome serves every method (gemcont.gwas.joint)
SPLIT_GWAS = "results/gwas/split_{split}"
# a scan job's files: the chromosome's, or one chunk's when gwas.chunk_variants > 0
SCAN = "{chrom}/chunk_{chunk}" if CHUNK_VARIANTS else "{chrom}"
SCAN_WORK = "work_{chrom}_chunk_{chunk}" if CHUNK_VARIANTS else "work_{chrom}"


wildcard_constraints:
    chunk=r"\d+",


rule prepare_gwas:
    input:
        embeddings=rules.export_embeddings.output.embeddings,
        covariates=DATA["covariates"],
        pcs=rules.compute_pcs.output.pcs,
        fam=f"{BFILE}.fam",
    output:
        pheno=f"{GWAS}/pheno.tsv",
        covar=f"{GWAS}/covar.tsv",
        corr=f"{GWAS}/trait_corr.tsv",
    log:
        "logs/gwas/{method}/split_{split}/prepare.log",
    benchmark:
        "logs/benchmarks/gwas/{method}/split_{split}/prepare.tsv"
    conda:
        "../../envs/gemcont.yaml"
    resources:
        mem_mb=requested("prepare_gwas", "mem_mb"),
        runtime=requested("prepare_gwas", "runtime"),
    params:
        gwas=gwas_params("prepare_gwas"),
    script:
        "../../scripts/prepare_gwas.py"


rule regenie_step1:
    input:
        bed=BED,
        pheno=split_inputs(rules.prepare_gwas.output.pheno),
        covar=split_inputs(rules.prepare_gwas.output.covar),
    output:
        manifest=f"{SPLIT_GWAS}/regenie/step1.tsv",
    log:
        "logs/gwas/split_{split}/regenie_step1.log",
    benchmark:
        "logs/benchmarks/gwas/split_{split}/regenie_step1.tsv"
    conda:
        "../../envs/gemcont.yaml"
    threads: 2
    resources:
        mem_mb=requested("regenie_step1", "mem_mb"),
        runtime=requested("regenie_step1", "runtime"),
    params:
        gwas=gwas_params("regenie_step1"),
        methods=config["methods"],
    script:
        "../../scripts/regenie_step1.py"


rule gwas_chromosome:
    input:
        genotypes=lambda wc: GWAS_GENOTYPES.files(wc.chrom),
        mfi=lambda wc: mfi_files(wc.chrom),
        pheno=split_inputs(rules.prepare_gwas.output.pheno),
        covar=split_inputs(rules.prepare_gwas.output.covar),
        corr=split_inputs(rules.prepare_gwas.output.corr),
        step1=lambda wc: (
            rules.regenie_step1.output.manifest.format(**wc)
            if config["gwas"]["engine"] == "regenie"
            else []
        ),
    output:
        per_dim=temp(split_inputs(f"{GWAS}/chr/{SCAN}.per_dim.tsv.gz")),
        multi=temp(split_inputs(f"{GWAS}/chr/{SCAN}.multi.tsv.gz")),
        # the scan's variant QC counts (gemcont.gwas.stage.QC_COLUMNS), one row
        qc=temp(split_inputs(f"{GWAS}/chr/{SCAN}.variant_qc.tsv")),
        # plink2's / REGENIE's own per-chromosome files (large at scale): deleted once
        # parsed, or with the failed job (its error and the tool's log tail: the rule log)
        work=temp(directory(f"{SPLIT_GWAS}/chr/{SCAN_WORK}")),
    log:
        f"logs/gwas/split_{{split}}/chr{SCAN}.log",
    benchmark:
        f"logs/benchmarks/gwas/split_{{split}}/chr{SCAN}.tsv"
    conda:
        "../../envs/gemcont.yaml"
    threads: 2
    resources:
        mem_mb=requested_per_chromosome("gwas_chromosome", "mem_mb"),
        runtime=requested_per_chromosome("gwas_chromosome", "runtime"),
        disk_mb=requested_per_chromosome("gwas_chromosome", "disk_mb"),
    params:
        gwas=gwas_params("gwas_chromosome"),
        methods=config["methods"],
        bfile=BFILE,
        # the chunks planned for the chromosome: a scan that finds another count stops
        # (its merge would miss tail variants)
        n_chunks=lambda wc: gwas_chunks(wc.chrom),
    script:
        "../../scripts/gwas_chromosome.py"


if CHUNK_VARIANTS:

    rule merge_gwas_chunks:
        input:
            per_dim=lambda wc: expand(
                f"{GWAS}/chr/{{chrom}}/chunk_{{chunk}}.per_dim.tsv.gz",
                chunk=range(gwas_chunks(wc.chrom)),
                **wc,
            ),
            multi=lambda wc: expand(
                f"{GWAS}/chr/{{chrom}}/chunk_{{chunk}}.multi.tsv.gz",
                chunk=range(gwas_chunks(wc.chrom)),
                **wc,
            ),
            qc=lambda wc: expand(
                f"{GWAS}/chr/{{chrom}}/chunk_{{chunk}}.variant_qc.tsv",
                chunk=range(gwas_chunks(wc.chrom)),
                **wc,
            ),
        output:
            per_dim=temp(f"{GWAS}/chr/{{chrom}}.per_dim.tsv.gz"),
            multi=temp(f"{GWAS}/chr/{{chrom}}.multi.tsv.gz"),
            qc=temp(f"{GWAS}/chr/{{chrom}}.variant_qc.tsv"),
        log:
            "logs/gwas/{method}/split_{split}/chunks_chr{chrom}.log",
        benchmark:
            "logs/benchmarks/gwas/{method}/split_{split}/chunks_chr{chrom}.tsv"
        conda:
            "../../envs/gemcont.yaml"
        resources:
            mem_mb=requested_per_chromosome("merge_gwas_chunks", "mem_mb"),
            runtime=requested_per_chromosome("merge_gwas_chunks", "runtime"),
            disk_mb=requested_per_chromosome("merge_gwas_chunks", "disk_mb"),
        script:
            "../../scripts/merge_gwas_chunks.py"


rule merge_gwas:
    input:
        per_dim=expand(
            f"{GWAS}/chr/{{chrom}}.per_dim.tsv.gz",
            chrom=gwas_chromosomes(),
            allow_missing=True,
        ),
        multi=expand(
            f"{GWAS}/chr/{{chrom}}.multi.tsv.gz",
            chrom=gwas_chromosomes(),
            allow_missing=True,
        ),
        qc=expand(
            f"{GWAS}/chr/{{chrom}}.variant_qc.tsv",
            chrom=gwas_chromosomes(),
            allow_missing=True,
        ),
    output:
        per_dim=f"{GWAS}/sumstats.tsv.gz",
        multi=f"{GWAS}/multitrait.tsv.gz",
        # variants scanned, dropped per filter and kept, per chromosome
        qc=f"{GWAS}/variant_qc.tsv",
    log:
        "logs/gwas/{method}/split_{split}/merge.log",
    benchmark:
        "logs/benchmarks/gwas/{method}/split_{split}/merge.tsv"
    conda:
        "../../envs/gemcont.yaml"
    resources:
        mem_mb=requested("merge_gwas", "mem_mb"),
        runtime=requested("merge_gwas", "runtime"),
        disk_mb=requested("merge_gwas", "disk_mb"),
    script:
        "../../scripts/merge_gwas.py"


rule summarise_gwas:
    input:
        multi=rules.merge_gwas.output.multi,
        panel=rules.build_panel.output.panel,
        bed=BED,
    output:
        loci=f"{GWAS}/loci.tsv",
        recovery=f"{GWAS}/recovery.tsv",
        summary=f"{GWAS}/summary.json",
    log:
        "logs/gwas/{method}/split_{split}/summarise.log",
    benchmark:
        "logs/benchmarks/gwas/{method}/split_{split}/summarise.tsv"
    conda:
        "../../envs/gemcont.yaml"
    threads: 2
    resources:
        mem_mb=requested("summarise_gwas", "mem_mb"),
        runtime=requested("summarise_gwas", "runtime"),
    params:
        gwas=gwas_params("summarise_gwas"),
        clump_engine=config["panel"]["clump_engine"],
        plink1_9=config["panel"]["plink1_9"],
    script:
        "../../scripts/summarise_gwas.py"


rule plot_gwas:
    input:
        multi=rules.merge_gwas.output.multi,
        panel=rules.build_panel.output.panel,
    output:
        manhattan=report(
            f"{GWAS}/manhattan.png",
            caption="../report/manhattan.rst",
            category="Embedding GWAS",
            subcategory="{method}",
        ),
        manhattan_pdf=f"{GWAS}/manhattan.pdf",
        qq=report(
            f"{GWAS}/qq.png",
            caption="../report/qq.rst",
            category="Embedding GWAS",
            subcategory="{method}",
        ),
        qq_pdf=f"{GWAS}/qq.pdf",
    log:
        "logs/gwas/{method}/split_{split}/plot.log",
    benchmark:
        "logs/benchmarks/gwas/{method}/split_{split}/plot.tsv"
    conda:
        "../../envs/gemcont.yaml"
    resources:
        mem_mb=requested("plot_gwas", "mem_mb"),
        runtime=requested("plot_gwas", "runtime"),
    script:
        "../../scripts/plot_gwas.py"
