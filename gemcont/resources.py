"""Memory, run time and disk requested by every job rule, from the data's size and the config.

Snakemake asks these through thin callables in ``workflow/rules/common.smk``; every
request is multiplied by the attempt, so a job killed for memory or time (SLURM) is
retried with twice and then three times as much. The sizes come from files that exist
when the workflow is planned (``Scale``: the .fam and .bim line counts, the sums'
size, the phenotype source's line count) and from the config, so a dry run shows every
request; ``python -m gemcont.resources --paper`` prints the table in README.md.

Formulas (attempt 1; MB = 10^6 bytes, min = minutes). N genotyped people, M variants
of data.bfile, M_g the variants the GWAS scans (``gwas.genotypes``: imputed dosages
hold many more; M_g = M when it is data.bfile), M_p those the panel and features read
(``data.panel_genotypes``; M_p = M when it is data.bfile), M_c those of one of its chromosomes and
M_j those of one GWAS job (M_c, or a chunk of ``gwas.chunk_variants``), H held-out
people of a split = min(N, I) x (1 - train
fraction), A = min(N, I) people analysed, I phenotype items (images, or people with
blows) of B bytes each, T the spirometry table's bytes, D embedding dimensions (D_g
those the GWAS tests: ``gwas.n_components``, or D), P panel
variants (``PANEL_VARIANTS``, an upper bound: the panel is not yet clumped when jobs are
planned), W = ``WINDOW_VARIANTS``, S the sums' text bytes (4x the file when gzipped),
L = 165 B a .bim line (340 with ``gwas.genotypes.mfi``: its lines too), I_t = I x
train fraction the training items, G = ``train.on_device_max_gb``, R the
``train.num_workers`` reader threads, b = ``train.batch_size``, m the methods (one GWAS
scan serves a split's methods).
Memory in bytes unless a unit is given, divided by 1e6:

| rule | mem_mb (MB) |
|---|---|
| simulate_genetics | 1000 + 4 x (N + N_ext) x M |
| simulate_imputed | 1000 + 40 x N x M_c |
| simulate_spirometry | 1000 + 150 KB x N |
| simulate_fundus | 1500 + 1 KB x N |
| build_panel | 1000 + 12 x S + 400 B x M_p + max(8 N W, dosages: min(4.3 GB, 8 N 2e4) + 270 MB) |
| compute_pcs | 1000 + N x max(16 x W, 12 x 4096) + min(2 GB, 4 x N x M / 10) |
| extract_features | 1000 + 7 x N x P (dosages: 10) + 8 x N x 256 + 200 B x M_p |
| build_phenotype_store | fundus 1500 + 1 KB x I + 100 MB x threads; spirometry 1500 + 2 x T |
| make_splits | 500 + 2 KB x N |
| train_model | 4000 + 8 x I_t x P + max(X, 9 x min(4096, I_t) x B) (X: below) |
| export_embeddings | 4000 + (R + 2) x 1024 x B + 64 x I x D |
| prepare_gwas | 1000 + 64 x A x D + 2 KB x N |
| regenie_step1 | 2000 + 8 x H x (1000 + 10 x D_g) |
| gwas_chromosome | 1000 + (40 block + 16 (D_g + 40) m) H + N block / 4 + L M_c + 24 D_g m M_j |
| merge_gwas, merge_gwas_chunks | 300 (they stream gzip members) |
| summarise_gwas | 1000 + 300 B x M_g + H x W |
| plot_gwas | 1500 + 150 B x M_g |
| evaluate_run | 1000 + 48 x A x D |
| evaluate | 1000 + 100 B x splits x methods x A |
| make_figures | 1500 + 24 x A x D |
| build_report, rotation_collect, rotation_figure | 1500 |

| rule | runtime (minutes; t = the job's threads) |
|---|---|
| simulate_genetics | 10 + (N + N_ext) x M / 2e8 |
| simulate_imputed | 10 + N x M / 1e9 |
| simulate_spirometry | 10 + N / 2000 |
| simulate_fundus | 10 + I / 600 |
| build_panel | 10 + S / 50 MB + M_p / 2e6 |
| compute_pcs | 30 + 4 x N x M x W / (5e10 flop/s x 60 x t) |
| extract_features | 10 + N x P / 2e8 |
| build_phenotype_store | fundus 10 + I / (600 x t); spirometry 10 + I / 6000 |
| make_splits | 10 + N / 1e6 |
| train_model | max(600, 20 + 2 views x epochs x I x train fraction / (rate x 60)) |
| export_embeddings | 15 + I / (rate x 60) |
| prepare_gwas | 10 + A x D / 5e6 |
| regenie_step1 | 30 + H x M x D_g / (2e10 x 60) |
| gwas_chromosome | 10 + 4 x H x M_j x (D_g + 40) x m / (2.5e10 flop/s x 60 x t) |
| merge_gwas, merge_gwas_chunks | 10 + M_g x D_g / 5e7 (merge_gwas_chunks: M_c) |
| summarise_gwas | 10 + M_g / 1e6 |
| plot_gwas | 10 + M_g / 2e6 |
| evaluate_run | 10 + A x D^2 x 30 / (1e9 x 60) |
| evaluate, make_figures, build_report, rotation_collect, rotation_figure | 10 |

``rate`` (items a second): on a GPU 20,000 (cnn2d), 4,000 (resnet18) or 2,000
(frozen_vit) at 224 x 224 x 3 bytes, scaled by that size over B (about half the H100's
throughput in ``benchmarks/measured/``, for data loading); on CPUs 2e7 / B.
Disk (``disk_mb``) where outputs are large: the phenotype store (I x B), the per-dimension
sums of a GWAS job (30 bytes a variant and dimension, gzipped) and of the merges.
``rotation_point`` keeps ``gemcont.rotation.jobs.memory_mb``.

Training holds its phenotype rows in memory (and on the device) only up to G (rows
and features: I_t x (B + 4 x P) <= G, with the panel's real P, unknown when jobs are
planned): X = I_t x B when I_t x B <= G (held with any panel), else batches are read from the store
(``gemcont.train.stream``: R + 1 read ahead, one in use) and X = (R + 2) x b x B; export
always reads them so. The channel statistics read up to 4,096 rows (~9 bytes of float
copies a stored byte; skipped with a frozen backbone). The features are
memory-mapped: training touches and copies its people's rows (8 x I_t x P), export only
reads their width.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gemcont.errors import InputError
from gemcont.panel.studies import studies_from_config

MB = 10**6
#: panel variants assumed before the panel is clumped: the issue-18 estimate of ~3,000
#: at paper scale, rounded up
PANEL_VARIANTS = 5000
#: genotype columns a clumping or LD-pruning window holds at once (ld_prune's block)
WINDOW_VARIANTS = 2000
#: dosage clumping (gemcont.panel.clump_dosage): a chromosome's float64 participants
#: (at most its CACHE_BYTES, 4 GiB; DOSAGE_PARTICIPANTS assumed) and a float64 candidate
#: block with its masks (4 x BLOCK_BYTES)
DOSAGE_HELD_BYTES = 1 << 32
DOSAGE_PARTICIPANTS = 20_000
DOSAGE_BLOCKS_BYTES = 4 * (1 << 26)
#: covariates and PCs of the GWAS null model (20 PCs + the default 8 covariates + slack)
GWAS_COVARIATES = 40
#: bytes a stored item holds: fundus 3 x side^2 (RGB), spirometry side^2 (one raster)
CHANNELS = {"fundus": 3, "spirometry": 1}
#: training samples a second on a GPU at 224 x 224 x 3 bytes (half the measured H100 rate)
GPU_RATE = {"cnn2d": 20_000, "resnet18": 4_000, "frozen_vit": 2_000}
GPU_RATE_BYTES = 224 * 224 * 3
#: bytes of stored items a second a CPU training step gets through (demo: 64 px fundus)
CPU_BYTES_PER_S = 2e7
#: the least time a training job asks for (minutes)
TRAIN_MIN_MINUTES = 600
#: rows an export batch holds (gemcont.train.methods.embed's default)
EXPORT_BATCH = 1024
#: rows the channel statistics read (gemcont.train.methods.channel_stats)
STATS_ROWS = 4096


@dataclass(frozen=True)
class Scale:
    """What a run's size is made of (see the module docstring for the symbols)."""

    genotyped: int  # N: .fam lines
    variants: int  # M: .bim lines
    gwas_variants: int  # M_g: variants of the GWAS genotypes (M when they are data.bfile)
    sumstats_bytes: int  # S: text bytes of the disease GWAS
    items: int  # I: phenotype items (fundus images, spirometry people)
    item_bytes: int  # B
    modality: str
    source_bytes: int  # the phenotype source file (the spirometry table is read whole)
    dim: int  # D: embedding dimensions (train.dim)
    gwas_dim: int  # D_g: phenotypes of the GWAS (gwas.n_components of the embedding, or D)
    train_fraction: float
    epochs: int
    encoder: str
    gpu: bool
    splits: int
    methods: int
    block_size: int  # GWAS variant block
    on_device_gb: float  # G: train.on_device_max_gb
    readers: int  # R: train.num_workers
    batch_size: int  # b: train.batch_size
    simulated_people: int = 0  # the simulation's cohort + external GWAS people (0: real data)
    mfi: bool = False  # the GWAS reads UK Biobank mfi files (gwas.genotypes.mfi, min_info > 0)
    panel_variants: int = 0  # M_p: variants of data.panel_genotypes (0: M, data.bfile's)
    panel_dosages: bool = False  # data.panel_genotypes holds dosages (.pgen, .bgen)

    @property
    def panel_m(self) -> int:
        """M_p: the variants the panel is harmonised to and the features read from."""
        return self.panel_variants or self.variants

    @property
    def analysed(self) -> int:
        """People who can enter a split: genotyped and phenotyped (items bound people)."""
        return min(self.genotyped, self.items)

    @property
    def held_out(self) -> int:
        """H: a split's held-out people, the people of its GWAS."""
        return math.ceil(self.analysed * (1 - self.train_fraction))

    @property
    def store_bytes(self) -> int:
        return self.items * self.item_bytes

    @property
    def rate(self) -> float:
        """Training or export samples a second (see the module docstring)."""
        if self.gpu:
            per_224 = GPU_RATE.get(self.encoder, GPU_RATE["resnet18"])
            return per_224 * GPU_RATE_BYTES / self.item_bytes
        return CPU_BYTES_PER_S / self.item_bytes


@dataclass(frozen=True)
class Need:
    """A job's request at attempt 1: memory (MB), run time (minutes), scratch disk (MB)."""

    mem_mb: float
    runtime: float
    disk_mb: float = 0.0


def _simulate_genetics(s: Scale, threads: int) -> Need:
    cells = s.simulated_people * s.variants
    return Need(1000 + 4 * cells / MB, 10 + cells / 2e8)


def _simulate_imputed(s: Scale, threads: int, variants: int) -> Need:
    # one chromosome at a time (``variants``: the largest): float32 calls, float64
    # certainty draws and centred calls, float32 dosages and their transposed copy;
    # ~20 M Beta draws a second (plink2's BGEN export is faster than that)
    cells = s.genotyped * s.variants
    return Need(1000 + 40 * s.genotyped * variants / MB, 10 + cells / 1e9)


def _simulate_spirometry(s: Scale, threads: int) -> Need:
    # three blows of ~1,500 samples a person as float64 arrays and their text, a few copies
    return Need(1000 + 150e3 * s.genotyped / MB, 10 + s.genotyped / 2000)


def _simulate_fundus(s: Scale, threads: int) -> Need:
    return Need(1500 + 1e3 * s.genotyped / MB, 10 + s.items / 600)


def _build_panel(s: Scale, threads: int) -> Need:
    # the sums as a pandas table (~0.8 KB a 70-byte row, issue 18), the variant table
    # (.bim, or data.panel_genotypes') and harmonising index, one float64 clumping
    # window of genotypes, or the dosage clumper's held chromosome and block
    window = 8 * s.genotyped * WINDOW_VARIANTS
    if s.panel_dosages:
        held = min(DOSAGE_HELD_BYTES, 8 * s.genotyped * DOSAGE_PARTICIPANTS)
        window = max(window, held + DOSAGE_BLOCKS_BYTES)
    mem = 1000 + (12 * s.sumstats_bytes + 400 * s.panel_m + window) / MB
    return Need(mem, 10 + s.sumstats_bytes / 50e6 + s.panel_m / 2e6)


def _compute_pcs(s: Scale, threads: int) -> Need:
    n = s.genotyped
    # pruning: a float32 read + float32 z + the kept window (16 B); randomized SVD: a
    # float64 standardised block of 4,096 + its float32 read (12 B); plus the 2 GB cache
    # of pruned genotypes (~1 in 10 variants kept)
    blocks = n * max(16 * WINDOW_VARIANTS, 12 * 4096)
    cache = min(2**31, 4 * n * s.variants / 10)
    # z^T z of every pruning block: 2 x N x 2000 flop a variant, 2 passes' worth
    flop = 4 * n * s.variants * WINDOW_VARIANTS
    return Need(1000 + (blocks + cache) / MB, 30 + flop / (5e10 * 60 * threads))


def _extract_features(s: Scale, threads: int) -> Need:
    # int8 dosages + float32 features of the panel and their temporaries (6.3 B a person
    # and panel variant measured, benchmarks/scale.py; float32 dosages, 3 B more), a
    # float64 residual block of 256 columns, the variant table (~160 B a row,
    # benchmarks/README.md)
    per_cell = 10 if s.panel_dosages else 7
    cells = per_cell * s.genotyped * PANEL_VARIANTS
    mem = 1000 + (cells + 8 * s.genotyped * 256 + 200 * s.panel_m) / MB
    return Need(mem, 10 + s.genotyped * PANEL_VARIANTS / 2e8)


def _build_phenotype_store(s: Scale, threads: int) -> Need:
    disk = s.store_bytes / MB
    if s.modality == "spirometry":
        # the field-3066 table is read whole as strings
        return Need(1500 + 2 * s.source_bytes / MB, 10 + s.items / 6000, disk)
    # one decoded photograph (up to ~100 MB as float) per thread, the index
    return Need(1500 + 1e3 * s.items / MB + 100 * threads, 10 + s.items / (600 * threads), disk)


def _make_splits(s: Scale, threads: int) -> Need:
    # the .fam, store index, disease and covariates keyed by person: 1.3 KB a person
    # measured (benchmarks/scale.py)
    return Need(500 + 2e3 * s.genotyped / MB, 10 + s.genotyped / 1e6)


def _streamed_bytes(s: Scale, batch: int) -> float:
    """Batches of items in memory while streaming: R + 1 read ahead and one in use."""
    return (s.readers + 2) * batch * s.item_bytes


def _train_inputs_mb(s: Scale) -> float:
    train_items = s.items * s.train_fraction
    features = 4 * train_items * PANEL_VARIANTS  # float32 rows of the training people
    # held whenever a panel may be small enough (gemcont.train.loop.make_source decides
    # with the real one): never fewer bytes than the job will hold
    fits = train_items * s.item_bytes <= s.on_device_gb * 1e9
    items = train_items * s.item_bytes if fits else _streamed_bytes(s, s.batch_size)
    stats = 0 if s.encoder == "frozen_vit" else 9 * min(STATS_ROWS, train_items) * s.item_bytes
    # the features' file pages touched and their copy, then the items held or streamed
    return 4000 + (2 * features + max(items, stats)) / MB


def _train_model(s: Scale, threads: int) -> Need:
    samples = 2 * s.epochs * s.items * s.train_fraction  # two views a step
    # at least the paper's ~10 h a run on an H100 (METHOD.md): a time limit that kills
    # a long run costs a restart from its last epoch; tests/test_slurm_cluster.py
    # expects this floor on the tiny config's retry (2 x 600 min)
    return Need(_train_inputs_mb(s), max(TRAIN_MIN_MINUTES, 20 + samples / s.rate / 60))


def _export_embeddings(s: Scale, threads: int) -> Need:
    # the batches streamed from the store, the embeddings (float32 rows, float64 sums a
    # person, float32 means) and the chunk being formatted
    mem = 4000 + (_streamed_bytes(s, EXPORT_BATCH) + 64 * s.items * s.dim) / MB
    return Need(mem, 15 + s.items / s.rate / 60)


def _prepare_gwas(s: Scale, threads: int) -> Need:
    # the embeddings table parsed from text (all people, D floats, a few copies) and the
    # covariates keyed by person: 9.3 KB a person at D = 128 measured (benchmarks/scale.py)
    mem = 1000 + (64 * s.analysed * s.dim + 2e3 * s.genotyped) / MB
    return Need(mem, 10 + s.analysed * s.dim / 5e6)


def _regenie_step1(s: Scale, threads: int) -> Need:
    h = s.held_out
    d = s.gwas_dim
    return Need(2000 + 8 * h * (1000 + 10 * d) / MB, 30 + h * s.variants * d / (2e10 * 60))


def _gwas_chromosome(s: Scale, threads: int, variants: int, chromosome: int = 0) -> Need:
    """One scan job of ``variants`` (a chunk, or all ``chromosome`` variants: 0 = the
    same) for every method of a split."""
    h, block = s.held_out, s.block_size
    # decoded blocks for the held-out people and the packed .bed rows of everyone; per
    # method its phenotype table and null-model basis (H x D_g and H x (D_g + c) float64,
    # with Q: 16 x H x (D_g + c)); the chromosome's .bim rows (~165 B, measured; read
    # whole for a chunk too) and the job's results of every method (3 x 8 B a dimension)
    dims = s.gwas_dim * s.methods
    models = 16 * h * (s.gwas_dim + GWAS_COVARIATES) * s.methods
    # (+ the chromosome's mfi lines matched to them: ~175 B a line, measured at 1 M lines)
    bim = (165 + (175 if s.mfi else 0)) * max(chromosome, variants)
    blocks = 40 * h * block + s.genotyped / 4 * block
    mem = 1000 + (blocks + models + bim + 24 * dims * variants) / MB
    flop = 4 * h * variants * (dims + GWAS_COVARIATES * s.methods)
    return Need(mem, 10 + flop / (2.5e10 * 60 * threads), 30 * variants * dims / MB)


def _merge_gwas(s: Scale, threads: int, variants: int = 0) -> Need:
    """One method's merge of ``variants`` (merge_gwas_chunks: a chromosome's; 0: the
    GWAS's, merge_gwas). It streams gzip members: the 149 MB measured at any N is the
    interpreter and imports."""
    variants = variants or s.gwas_variants
    return Need(300, 10 + variants * s.gwas_dim / 5e7, 30 * variants * s.gwas_dim / MB)


def _summarise_gwas(s: Scale, threads: int) -> Need:
    # the multi-trait table (one row a variant), one clumping window of genotypes as bit
    # sets (3 bits a genotype, panel/clump.py; ~0.5 B a person and window variant measured)
    mem = 1000 + (300 * s.gwas_variants + s.held_out * WINDOW_VARIANTS) / MB
    return Need(mem, 10 + s.gwas_variants / 1e6)


def _plot_gwas(s: Scale, threads: int) -> Need:
    return Need(1500 + 150 * s.gwas_variants / MB, 10 + s.gwas_variants / 2e6)


def _evaluate_run(s: Scale, threads: int) -> Need:
    # ridge and logistic fits over D-wide embeddings: ~30 penalties x folds of N x D^2
    flop = s.analysed * s.dim**2 * 30
    return Need(1000 + 48 * s.analysed * s.dim / MB, 10 + flop / (1e9 * 60))


def _evaluate(s: Scale, threads: int) -> Need:
    return Need(1000 + 100 * s.splits * s.methods * s.analysed / MB, 10)


def _make_figures(s: Scale, threads: int) -> Need:
    return Need(1500 + 24 * s.analysed * s.dim / MB, 10)


def _small(s: Scale, threads: int) -> Need:
    return Need(1500, 10)


ESTIMATES: dict[str, Callable[..., Need]] = {
    "simulate_genetics": _simulate_genetics,
    "simulate_imputed": _simulate_imputed,
    "simulate_spirometry": _simulate_spirometry,
    "simulate_fundus": _simulate_fundus,
    "build_panel": _build_panel,
    "compute_pcs": _compute_pcs,
    "extract_features": _extract_features,
    "build_phenotype_store": _build_phenotype_store,
    "make_splits": _make_splits,
    "train_model": _train_model,
    "export_embeddings": _export_embeddings,
    "prepare_gwas": _prepare_gwas,
    "regenie_step1": _regenie_step1,
    "gwas_chromosome": _gwas_chromosome,
    "merge_gwas": _merge_gwas,
    "merge_gwas_chunks": _merge_gwas,
    "summarise_gwas": _summarise_gwas,
    "plot_gwas": _plot_gwas,
    "evaluate_run": _evaluate_run,
    "evaluate": _evaluate,
    "make_figures": _make_figures,
    "build_report": _small,
    "rotation_collect": _small,
    "rotation_figure": _small,
}


def request(
    rule: str, scale: Scale, attempt: int = 1, threads: int = 1, **extra: Any
) -> dict[str, int]:
    """``rule``'s resources at ``attempt`` (1, 2, ...): every amount times the attempt,
    rounded up (``extra``: the per-job size: ``variants`` of a GWAS job and its
    ``chromosome``'s, gwas_chromosome; ``variants`` of the chromosome, merge_gwas_chunks)."""
    need = ESTIMATES[rule](scale, max(threads, 1), **extra)
    out = {"mem_mb": need.mem_mb, "runtime": need.runtime}
    if need.disk_mb:
        out["disk_mb"] = max(need.disk_mb, 1000)
    return {key: math.ceil(attempt * value) for key, value in out.items()}


def item_bytes(config: Mapping[str, Any]) -> int:
    """Bytes of one stored phenotype item (fundus RGB image or spirometry raster)."""
    modality = config["data"]["modality"]
    ph = config["phenotypes"]
    side = ph["fundus_image_size"] if modality == "fundus" else ph["spirometry_raster_size"]
    return CHANNELS[modality] * side * side


def sumstats_text_bytes(path: str | Path) -> int:
    """The disease GWAS's text size: the file's, 4x a gzipped file's (GWAS tables
    compress about 3-4x)."""
    size = _stat(path).st_size
    return 4 * size if str(path).endswith((".gz", ".bgz")) else size


def count_lines(path: str | Path) -> int:
    """Lines of a text file, counted in 16 MB blocks (no parsing)."""
    _stat(path)
    with open(path, "rb") as fh:
        return sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 24), b""))


def _stat(path: str | Path) -> os.stat_result:
    """The file's status, or an error naming the config key's file (resources are sized
    from the inputs when the workflow is planned)."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        raise InputError(
            path,
            "file not found (the resource requests are sized from it)",
            "check the data: paths of the config",
        ) from None


def plan_scale(
    config: Mapping[str, Any],
    genotyped: int,
    variants: int,
    gwas_variants: int | None = None,
    panel_variants: int | None = None,
) -> Scale:
    """The run's ``Scale``: the simulation's sizes, or the data's files (``genotyped``,
    ``variants``, the GWAS's ``gwas_variants`` and data.panel_genotypes'
    ``panel_variants``, None: ``variants``, are counted by the caller, which has them
    cached)."""
    data, sim, train = config["data"], config["simulate"], config["train"]
    modality = data["modality"]
    if sim["enabled"]:
        both = sim["fundus"]["both_eyes_fraction"] if modality == "fundus" else 0.0
        items = math.ceil(sim["n_people"] * (1 + both))
        # one ~70-byte row a variant in each external cohort's file
        sumstats = 70 * variants * sim["external_gwas"]["n_cohorts"]
        source_bytes = 30_000 * sim["n_people"]  # three blows of ~1,500 values
        simulated = sim["n_people"] + sim["external_gwas"]["n_people"]
    else:
        source = data["fundus_manifest"] if modality == "fundus" else data["spirometry_table"]
        # a header line; a fundus person may have two images (both counted)
        items = max(count_lines(source) - 1, 1)
        # every study of a meta-analysis is held at once
        studies = studies_from_config(data["sumstats"], data["sumstats_columns"])
        sumstats = sum(sumstats_text_bytes(s.path) for s in studies)
        source_bytes = _stat(source).st_size
        simulated = 0
    from gemcont.gwas.engines.builtin import DEFAULT_BLOCK_SIZE

    return Scale(
        genotyped=genotyped,
        variants=variants,
        gwas_variants=variants if gwas_variants is None else gwas_variants,
        sumstats_bytes=sumstats,
        items=items,
        item_bytes=item_bytes(config),
        modality=modality,
        source_bytes=source_bytes,
        dim=train["dim"],
        gwas_dim=config["gwas"]["n_components"] or train["dim"],
        train_fraction=config["splits"]["train_fraction"],
        epochs=train["epochs"],
        encoder=train["encoder"],
        gpu=train["device"] != "cpu",
        splits=config["splits"]["n_splits"],
        methods=len(config["methods"]),
        block_size=config["gwas"]["block_size"] or DEFAULT_BLOCK_SIZE["cpu"],
        mfi=config["gwas"]["genotypes"]["mfi"] is not None and config["gwas"]["min_info"] > 0,
        on_device_gb=train["on_device_max_gb"],
        readers=train["num_workers"],
        batch_size=train["batch_size"],
        simulated_people=simulated,
        panel_variants=panel_variants or 0,
        panel_dosages=_dosage_path(data["panel_genotypes"]["path"]),
    )


def _dosage_path(path: str | None) -> bool:
    """Whether a genotype path (gwas.genotypes' grammar) names dosages (.pgen, .bgen)."""
    from gemcont.gwas.genotypes import genotype_format

    return path is not None and genotype_format(path) != "bed"


#: the paper's UK Biobank setting (issue 18): 500 k genotyped people, 10 M variants in a
#: 10 M-row disease GWAS, D = 256 (the GWAS on the embeddings' top 10 PCs, the schema's
#: gwas.n_components), 5 splits x 7 methods, the schema's training schedule and data
#: loading (16 GB on the device, 4 reader threads, batches of 1,024)
PAPER = Scale(
    genotyped=500_000,
    variants=10_000_000,
    gwas_variants=10_000_000,
    sumstats_bytes=70 * 10_000_000,
    items=113_000,
    item_bytes=256 * 256,
    modality="spirometry",
    source_bytes=10 * 10**9,  # field 3066 for ~450 k people, three blows as text
    dim=256,
    gwas_dim=10,
    train_fraction=0.5,
    epochs=150,
    encoder="resnet18",
    gpu=True,
    splits=5,
    methods=7,
    block_size=512,
    on_device_gb=16,
    readers=4,
    batch_size=1024,
)
PAPER_FUNDUS = replace(
    PAPER,
    items=60_000,
    item_bytes=3 * 512 * 512,
    modality="fundus",
    source_bytes=5 * 10**6,
    encoder="frozen_vit",
)
#: chromosome 1 holds ~8% of the variants
PAPER_CHROMOSOME_SHARE = 0.08


#: rules whose estimate takes one chromosome's ``variants`` (the job's, or the largest)
PER_CHROMOSOME = ("gwas_chromosome", "merge_gwas_chunks", "simulate_imputed")


def table(scales: Mapping[str, tuple[Scale, int]], threads: int = 2) -> str:
    """Markdown table: each rule's request (attempt 1) per named scale; ``scales`` maps
    a column name to the scale and the variants of its largest chromosome."""
    head = "| rule | " + " | ".join(f"{name}: mem, time" for name in scales) + " |"
    lines = [head, "|---|" + "---|" * len(scales)]
    for rule in ESTIMATES:
        cells = []
        for scale, chromosome in scales.values():
            if rule.startswith("simulate_") and not scale.simulated_people:
                cells.append("(real data: not run)")
                continue
            extra = {"variants": chromosome} if rule in PER_CHROMOSOME else {}
            req = request(rule, scale, 1, threads, **extra)
            disk = f", disk {_size(req['disk_mb'])}" if "disk_mb" in req else ""
            cells.append(f"{_size(req['mem_mb'])}, {_minutes(req['runtime'])}{disk}")
        lines.append(f"| {rule} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _size(mb: float) -> str:
    return f"{mb / 1000:.1f} GB" if mb >= 1000 else f"{mb:.0f} MB"


def _minutes(minutes: float) -> str:
    return f"{minutes / 60:.1f} h" if minutes >= 120 else f"{minutes:.0f} min"


def demo_scale() -> tuple[Scale, int]:
    """The demo (config/config.yaml) as planned, with the schema's defaults, and the
    variants of one of its chromosomes."""
    import yaml

    from gemcont.config import load_schema, validate_config

    root = Path(__file__).resolve().parent.parent
    config = yaml.safe_load((root / "config" / "config.yaml").read_text())
    validate_config(config, load_schema(root / "workflow" / "schemas" / "config.schema.yaml"))
    g = config["simulate"]["genotypes"]
    per_chromosome = int(g["chromosome_length_mb"] * 1000 / g["snp_spacing_kb"])
    variants = per_chromosome * g["n_chromosomes"]
    return plan_scale(config, config["simulate"]["n_people"], variants), per_chromosome


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Print each rule's resource request.")
    parser.add_argument("--paper", action="store_true", help="demo and paper-scale columns")
    parser.add_argument("--threads", type=int, default=2, help="threads of a job (default 2)")
    args = parser.parse_args(argv)
    demo, demo_chromosome = demo_scale()
    scales = {"demo": (demo, demo_chromosome)}
    if args.paper:
        chromosome = int(PAPER.variants * PAPER_CHROMOSOME_SHARE)
        scales["paper spirometry"] = (PAPER, chromosome)
        scales["paper fundus"] = (PAPER_FUNDUS, chromosome)
    print(table(scales, args.threads))


if __name__ == "__main__":
    main()
