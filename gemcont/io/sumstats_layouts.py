"""The published summary-statistics layouts :func:`gemcont.io.sumstats.load_sumstats` knows.

A layout is recognised by its exact header spellings (the tools' own) and says, for each
scheme column, which header to take (first one present wins), which allele each
statistic is the effect of, which missing-value tokens the producer writes and which rows
are not variant effects (``TEST`` other than ``ADD``). Recognising the layout is preferred
over the generic header aliases, because the aliases cannot know that SAIGE's effect
allele is ``Allele2`` or that a GWAS Catalog harmonised file's ``hm_*`` columns win.

Helper columns a layout reads besides the scheme ones have names starting with ``_``:
``_ALT`` (PLINK 2: OA is the one of REF/ALT that is not A1), ``_ID2``/``_ID3`` (the
further ID candidates present, used where the ones before are missing), ``_TEST``,
``_HM_CODE``, ``_BETA_SUBMITTED`` / ``_OR_SUBMITTED`` (GWAS Catalog: the submitted effect,
to decide whether the submitted standard error belongs to the harmonised effect),
``_CI_LOWER`` / ``_CI_UPPER`` and ``_N_CASE`` / ``_N_CTRL``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# scheme names a user may map in data.sumstats_columns
MAP_KEYS = ("CHR", "POS", "ID", "EA", "OA", "EAF", "N", "BETA", "OR", "SE", "P", "LOG10P", "Z")
# helper and scheme columns read as text; every other one is parsed as a number
TEXT_COLUMNS = frozenset({"CHR", "ID", "_ID2", "_ID3", "EA", "OA", "_ALT", "_TEST", "_HM_CODE"})
# ID candidates present after the first: used, in order, where the ones before are missing
ID_FALLBACKS = ("_ID2", "_ID3")

# GWAS Catalog harmonisation codes (hm_code) of rows the harmoniser could not harmonise:
# 9 palindromic dropped, 14 required fields unknown, 15 no matching variant in the
# reference VCF, 16 several matching variants, 17 palindromic without EAF/reference AF,
# 18 palindromic with EAF below the MAF threshold (EBI gwas-sumstats-harmoniser).
HM_CODES_UNHARMONISED = {
    "9": "palindromic variant dropped by the GWAS Catalog harmoniser",
    "14": "required fields not known: not harmonised",
    "15": "no matching variant in the reference VCF: not harmonised",
    "16": "several matching variants in the reference VCF: not harmonised",
    "17": "palindromic, EAF or reference AF unknown: not harmonised",
    "18": "palindromic, EAF below the MAF threshold: not harmonised",
}


@dataclass(frozen=True)
class Layout:
    """One producer's file layout."""

    name: str
    title: str
    signature: tuple[str, ...]  # headers that must all be present (exact spelling)
    columns: dict[str, tuple[str, ...]]  # scheme/helper name -> candidate headers
    effect_of: dict[str, str] = field(default_factory=dict)  # statistic -> its allele
    other_of: dict[str, str] = field(default_factory=dict)  # effect allele -> other allele
    missing: tuple[str, ...] = ("NA",)
    rule: str = ""  # one line for the log and the config README
    excludes: tuple[str, ...] = ()  # headers whose presence means another layout


FINNGEN = Layout(
    "finngen",
    "FinnGen",
    ("#chrom", "pos", "ref", "alt", "pval"),
    {
        "CHR": ("#chrom",),
        "POS": ("pos",),
        "ID": ("rsids",),
        "EA": ("alt",),
        "OA": ("ref",),
        "EAF": ("af_alt",),
        "BETA": ("beta",),
        "SE": ("sebeta",),
        "P": ("pval",),
        "LOG10P": ("mlogp",),
    },
    effect_of={"beta": "alt", "af_alt": "alt"},
    other_of={"alt": "ref"},
    missing=("", "NA"),
    rule="effect allele alt (OA ref); ID rsids, CHR:POS:REF:ALT where empty; LOG10P mlogp",
)

GWAS_SSF = Layout(
    "gwas_ssf",
    "GWAS-SSF",
    ("chromosome", "base_pair_location", "effect_allele", "other_allele"),
    {
        "CHR": ("chromosome",),
        "POS": ("base_pair_location",),
        "ID": ("rsid", "variant_id"),
        "EA": ("effect_allele",),
        "OA": ("other_allele",),
        "EAF": ("effect_allele_frequency",),
        "N": ("n",),
        "BETA": ("beta",),
        "OR": ("odds_ratio",),
        "SE": ("standard_error",),
        "P": ("p_value",),
        "LOG10P": ("neg_log_10_p_value",),
        "_CI_LOWER": ("ci_lower",),
        "_CI_UPPER": ("ci_upper",),
        "_HM_CODE": ("hm_code",),
    },
    effect_of={"beta": "effect_allele", "odds_ratio": "effect_allele"}
    | {"effect_allele_frequency": "effect_allele"},
    other_of={"effect_allele": "other_allele"},
    missing=("#NA", "NA", ""),
    rule="effect allele effect_allele; '#NA' is missing; ID rsid, else variant_id",
    excludes=("hm_effect_allele",),
)

GWAS_CATALOG_HARMONISED = Layout(
    "gwas_catalog_harmonised",
    "GWAS Catalog harmonised",
    ("hm_effect_allele", "hm_other_allele", "hm_code"),
    {
        "CHR": ("hm_chrom",),
        "POS": ("hm_pos",),
        "ID": ("hm_rsid", "hm_variant_id", "variant_id"),
        "EA": ("hm_effect_allele",),
        "OA": ("hm_other_allele",),
        "EAF": ("hm_effect_allele_frequency",),
        "N": ("n",),
        "BETA": ("hm_beta",),
        "OR": ("hm_odds_ratio",),
        "SE": ("standard_error",),
        "P": ("p_value",),
        "LOG10P": ("neg_log_10_p_value",),
        "_BETA_SUBMITTED": ("beta",),
        "_OR_SUBMITTED": ("odds_ratio",),
        "_CI_LOWER": ("hm_ci_lower",),
        "_CI_UPPER": ("hm_ci_upper",),
        "_HM_CODE": ("hm_code",),
    },
    effect_of={
        "hm_beta": "hm_effect_allele",
        "hm_odds_ratio": "hm_effect_allele",
        "hm_effect_allele_frequency": "hm_effect_allele",
        "beta": "effect_allele",
        "odds_ratio": "effect_allele",
        "effect_allele_frequency": "effect_allele",
    },
    other_of={"hm_effect_allele": "hm_other_allele", "effect_allele": "other_allele"},
    missing=("NA", "#NA", ""),
    rule="hm_* columns win (alleles, position, beta/OR, EAF); rows hm_code 9/14-18 or "
    "without hm values dropped; SE from standard_error only where |hm_beta| = |beta|",
)

PLINK2_GLM = Layout(
    "plink2_glm",
    "PLINK 2 --glm",
    ("#CHROM", "POS", "ID", "REF", "ALT", "A1"),
    {
        "CHR": ("#CHROM",),
        "POS": ("POS",),
        "ID": ("ID",),
        "EA": ("A1",),
        "OA": ("REF",),
        "_ALT": ("ALT",),
        "EAF": ("A1_FREQ",),
        "N": ("OBS_CT",),
        "BETA": ("BETA",),
        "OR": ("OR",),
        "SE": ("SE", "LOG(OR)_SE"),
        "P": ("P",),
        "LOG10P": ("LOG10_P",),
        "_TEST": ("TEST",),
    },
    effect_of={"BETA": "A1", "OR": "A1", "A1_FREQ": "A1"},
    missing=("NA", "."),
    rule="effect allele A1 (OA the other of REF/ALT); TEST ADD rows only",
)

REGENIE = Layout(
    "regenie",
    "REGENIE step 2",
    ("CHROM", "GENPOS", "ID", "ALLELE0", "ALLELE1", "LOG10P"),
    {
        "CHR": ("CHROM",),
        "POS": ("GENPOS",),
        "ID": ("ID",),
        "EA": ("ALLELE1",),
        "OA": ("ALLELE0",),
        "EAF": ("A1FREQ",),
        "N": ("N",),
        "BETA": ("BETA",),
        "SE": ("SE",),
        "LOG10P": ("LOG10P",),
        "_TEST": ("TEST",),
    },
    effect_of={"BETA": "ALLELE1", "A1FREQ": "ALLELE1"},
    other_of={"ALLELE1": "ALLELE0"},
    rule="effect allele ALLELE1 (OA ALLELE0); TEST ADD rows only; LOG10P",
)

BOLT_LMM = Layout(
    "bolt_lmm",
    "BOLT-LMM",
    ("SNP", "CHR", "BP", "ALLELE1", "ALLELE0", "P_BOLT_LMM_INF"),
    {
        "CHR": ("CHR",),
        "POS": ("BP",),  # GENPOS is the genetic map position (cM), not base pairs
        "ID": ("SNP",),
        "EA": ("ALLELE1",),
        "OA": ("ALLELE0",),
        "EAF": ("A1FREQ",),
        "BETA": ("BETA",),
        "SE": ("SE",),
        "P": ("P_BOLT_LMM", "P_BOLT_LMM_INF"),
    },
    effect_of={"BETA": "ALLELE1", "A1FREQ": "ALLELE1"},
    other_of={"ALLELE1": "ALLELE0"},
    rule="effect allele ALLELE1 (OA ALLELE0); P_BOLT_LMM when present, else "
    "P_BOLT_LMM_INF; POS is BP (GENPOS is cM)",
)

SAIGE = Layout(
    "saige",
    "SAIGE",
    ("CHR", "POS", "Allele1", "Allele2", "AF_Allele2", "p.value"),
    {
        "CHR": ("CHR",),
        "POS": ("POS",),
        "ID": ("MarkerID", "SNPID", "rsid"),
        "EA": ("Allele2",),
        "OA": ("Allele1",),
        "EAF": ("AF_Allele2",),
        "N": ("N",),
        "BETA": ("BETA",),
        "SE": ("SE",),
        "P": ("p.value",),
        "_N_CASE": ("N_case",),
        "_N_CTRL": ("N_ctrl",),
    },
    effect_of={"BETA": "Allele2", "AF_Allele2": "Allele2", "Tstat": "Allele2"},
    other_of={"Allele2": "Allele1"},
    rule="effect allele Allele2 (not Allele1: BETA and AF_Allele2 are Allele2's)",
)

METAL = Layout(
    "metal",
    "METAL",
    ("MarkerName", "Allele1", "Allele2", "P-value"),
    {
        "CHR": ("Chromosome", "CHR", "Chr"),
        "POS": ("Position", "POS", "Pos", "BP"),
        "ID": ("MarkerName",),
        "EA": ("Allele1",),
        "OA": ("Allele2",),
        "EAF": ("Freq1",),
        "N": ("Weight", "N", "TotalSampleSize"),
        "BETA": ("Effect",),
        "SE": ("StdErr",),
        "Z": ("Zscore",),
        "P": ("P-value",),
    },
    effect_of={"Effect": "Allele1", "Zscore": "Allele1", "Freq1": "Allele1"},
    other_of={"Allele1": "Allele2"},
    rule="effect allele Allele1 (lower case); SAMPLESIZE: BETA = Zscore/sqrt(Weight), "
    "SE = 1/sqrt(Weight); MarkerName only: matched by ID alone",
)

PLINK1_ASSOC = Layout(
    "plink1_assoc",
    "PLINK 1.9 --assoc",
    ("CHR", "SNP", "BP", "A1", "F_A", "F_U", "A2", "P"),
    {
        "CHR": ("CHR",),
        "POS": ("BP",),
        "ID": ("SNP",),
        "EA": ("A1",),
        "OA": ("A2",),
        "OR": ("OR",),
        "SE": ("SE",),
        "P": ("P",),
    },
    effect_of={"OR": "A1", "F_A": "A1", "F_U": "A1"},
    other_of={"A1": "A2"},
    rule="effect allele A1 (OA A2); BETA = log(OR); no EAF (F_A/F_U are case/control)",
)

PLINK1_LINEAR = Layout(
    "plink1_linear",
    "PLINK 1.9 --linear/--logistic",
    ("CHR", "SNP", "BP", "A1", "TEST", "NMISS", "STAT", "P"),
    {
        "CHR": ("CHR",),
        "POS": ("BP",),
        "ID": ("SNP",),
        "EA": ("A1",),
        "N": ("NMISS",),
        "BETA": ("BETA",),
        "OR": ("OR",),
        "SE": ("SE",),
        "P": ("P",),
        "_TEST": ("TEST",),
    },
    effect_of={"BETA": "A1", "OR": "A1"},
    rule="effect allele A1; no other allele in the file (OA empty); TEST ADD rows only",
)

# the header PLINK 1.9 --assoc writes for a quantitative trait: no allele at all
PLINK1_QASSOC_SIGNATURE = ("CHR", "SNP", "BP", "NMISS", "BETA", "SE", "R2", "T", "P")

# most specific first: the catalog's harmonised files also hold the GWAS-SSF columns
LAYOUTS = (
    GWAS_CATALOG_HARMONISED,
    GWAS_SSF,
    FINNGEN,
    PLINK2_GLM,
    REGENIE,
    BOLT_LMM,
    SAIGE,
    METAL,
    PLINK1_ASSOC,
    PLINK1_LINEAR,
)

# the generic path: header aliases, any case, for files of no known layout
ALIASES: dict[str, tuple[str, ...]] = {
    "ID": ("SNP", "ID", "RSID", "RSIDS", "MARKERNAME", "VARIANT_ID", "SNPID"),
    "CHR": ("CHR", "#CHROM", "CHROM", "CHROMOSOME", "#CHR"),
    "POS": ("BP", "POS", "POSITION", "BASE_PAIR_LOCATION", "GENPOS"),
    "EA": ("A1", "EA", "EFFECT_ALLELE", "ALLELE1", "ALT"),
    "OA": ("A2", "OA", "OTHER_ALLELE", "ALLELE0", "NEA", "REF"),
    "EAF": ("EAF", "A1FREQ", "EFFECT_ALLELE_FREQUENCY", "FRQ", "AF", "A1_FREQ", "AF_ALT"),
    "BETA": ("BETA", "B", "EFFECT"),
    "OR": ("OR", "ODDS_RATIO"),
    "SE": ("SE", "STANDARD_ERROR", "SEBETA", "STDERR", "LOG(OR)_SE"),
    "P": ("P", "PVAL", "P_VALUE", "P_BOLT_LMM"),
    "LOG10P": ("LOG10P", "MLOG10P", "NEG_LOG10_P", "MLOGP", "NEG_LOG_10_P_VALUE"),
    "N": ("N", "N_TOTAL", "OBS_CT", "NEFF"),
}
GENERIC_MISSING = (".", "NA", "#NA", "NaN", "nan", "", "null", "NULL", "-")


def detect_layout(headers: list[str]) -> Layout | None:
    """The first layout whose signature headers are all present, or None (generic)."""
    present = set(headers)
    for layout in LAYOUTS:
        if set(layout.signature) <= present and not present & set(layout.excludes):
            return layout
    return None


def is_plink1_qassoc(headers: list[str]) -> bool:
    """PLINK 1.9 quantitative --assoc output (.qassoc): it names no allele."""
    return set(PLINK1_QASSOC_SIGNATURE) <= set(headers) and "A1" not in headers


def layout_columns(layout: Layout, headers: list[str]) -> dict[str, str]:
    """Name -> header for every layout column present (first candidate present wins; the
    further ID candidates present become ``_ID2``, ``_ID3``)."""
    present = set(headers)
    resolved: dict[str, str] = {}
    for name, candidates in layout.columns.items():
        found = [h for h in candidates if h in present]
        names = (name, *ID_FALLBACKS) if name == "ID" else (name,)
        resolved.update(zip(names, found, strict=False))
    return resolved


def optional_columns(layout: Layout, required: tuple[str, ...]) -> set[str]:
    """Required scheme columns the layout may lack (not in its signature): METAL's
    position, PLINK 1.9 --linear's other allele."""
    return {n for n in required if not set(layout.columns.get(n, ())) & set(layout.signature)}
