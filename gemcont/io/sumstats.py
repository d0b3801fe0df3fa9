"""The one summary-statistics column scheme used by every stage and engine.

Per-dimension (or single-trait) files: ``CHR POS ID EA OA EAF N BETA SE P``.
Multi-trait files: ``CHR POS ID EA OA EAF N CHISQ DF P``.
``EA`` is the counted allele (.bim column 5, see :mod:`gemcont.io.plink`).
Files are tab-separated, optionally gzipped, with a header line.
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.special import ndtri_exp

from gemcont.errors import InputError
from gemcont.gwas.pvalues import LN10
from gemcont.io.chromosomes import normalise_published
from gemcont.io.tables import write_tsv

if TYPE_CHECKING:
    from gemcont.gwas.engines.builtin import BuiltinScan

VARIANT_COLUMNS = ["CHR", "POS", "ID", "EA", "OA", "EAF", "N"]
SINGLE_TRAIT_COLUMNS = [*VARIANT_COLUMNS, "BETA", "SE", "P"]
MULTI_TRAIT_COLUMNS = [*VARIANT_COLUMNS, "CHISQ", "DF", "P"]
# the GWAS stage's files: per dimension (long, one trait after the other) and multi-trait
TRAIT_COLUMN = "TRAIT"
PER_DIM_COLUMNS = [*SINGLE_TRAIT_COLUMNS, "LOG10P", TRAIT_COLUMN]
MULTI_COLUMNS = [*MULTI_TRAIT_COLUMNS, "LOG10P"]


def write_sumstats(
    df: pd.DataFrame | Iterable[pd.DataFrame], path: str | Path, columns: list[str]
) -> None:
    """Write ``df[columns]`` (plus any extra columns after them) atomically as TSV(.gz);
    ``df`` may be frames written one after the other (see :func:`write_tsv`)."""

    def ordered(frame: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ValueError(f"sumstats frame lacks columns {missing}")
        return frame[columns + [c for c in frame.columns if c not in columns]]

    write_tsv(map(ordered, [df] if isinstance(df, pd.DataFrame) else df), path)


# ---------------------------------------------------------------------------
# Reading external summary statistics
# ---------------------------------------------------------------------------

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
REQUIRED = ("CHR", "POS", "EA", "OA")
READ_COLUMNS = [*SINGLE_TRAIT_COLUMNS, "LOG10P"]
NA_VALUES = [".", "NA", "NaN", "nan", "", "null", "NULL", "-"]
_FIX = "name the file's header for each scheme column under data.sumstats_columns in the config"
_LOG = logging.getLogger(__name__)


def normalise_chrom(chrom: pd.Series) -> pd.Series:
    """Chromosome codes as the fileset's (:mod:`gemcont.io.chromosomes`): 'chr1'/'01' ->
    '1'; 23-26, M and any case of X, Y, XY, MT -> X, Y, XY, MT (each distinct code
    normalised once)."""
    inverse, codes = pd.factorize(chrom.astype(str))
    normalised = np.asarray([normalise_published(c) for c in codes], dtype=object)
    return pd.Series(normalised[inverse], index=chrom.index, dtype=str)


def _open_text(path: Path):
    with path.open("rb") as handle:
        gz = handle.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rt") if gz else path.open("rt")


def _sniff_separator(path: Path) -> str:
    """Tab, comma or whitespace, from the header line."""
    try:
        with _open_text(path) as handle:
            header = handle.readline()
    except FileNotFoundError as err:
        raise InputError(path, "file not found", "check data.sumstats in the config") from err
    if not header.strip():
        raise InputError(path, "empty file (no header line)", "supply a file with a header line")
    if "\t" in header:
        return "\t"
    return "," if "," in header else r"\s+"


def _resolve_columns(
    path: Path, headers: list[str], column_map: dict[str, str] | None
) -> dict[str, str]:
    """Scheme name -> file header, from ``column_map`` first, then aliases."""
    by_upper = {h.strip().upper(): h for h in headers}
    resolved: dict[str, str] = {}
    for name, header in (column_map or {}).items():
        if header not in headers:
            raise InputError(
                path,
                f"data.sumstats_columns maps {name} to '{header}', which is not a header; "
                f"headers found: {headers}",
                _FIX,
            )
        resolved[name] = header
    for name, aliases in ALIASES.items():
        if name not in resolved:
            found = next((by_upper[a] for a in aliases if a in by_upper), None)
            if found is not None and found not in resolved.values():
                resolved[name] = found
    _pair_plink2_alleles(by_upper, resolved, column_map or {})
    missing = [n for n in REQUIRED if n not in resolved]
    if "BETA" not in resolved and "OR" not in resolved:
        missing.append("BETA (or OR)")
    if "P" not in resolved and "LOG10P" not in resolved:
        missing.append("P (or LOG10P)")
    if missing:
        looked = {m.split()[0]: ALIASES[m.split()[0]] for m in missing}
        raise InputError(
            path,
            f"no column for {', '.join(missing)} (looked for headers {looked}, any case); "
            f"headers found: {headers}",
            _FIX,
        )
    return resolved


def _pair_plink2_alleles(
    by_upper: dict[str, str], resolved: dict[str, str], column_map: dict[str, str]
) -> None:
    """plink2 --glm files name the tested allele A1 next to REF/ALT: OA is then 'the other'."""
    plink2 = {"A1", "REF", "ALT"} <= by_upper.keys()
    if plink2 and resolved.get("EA") == by_upper["A1"] and "OA" not in column_map:
        resolved["OA"], resolved["_ALT"] = by_upper["REF"], by_upper["ALT"]


def _to_float(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values, errors="coerce").astype("float64")


def _log10p_from_text(p_text: pd.Series) -> pd.Series:
    """-log10(P) from the text, exact even where P underflows a double (1e-400)."""
    p = _to_float(p_text)
    log10p = -np.log10(p.where(p > 0))
    parts = p_text.astype(str).str.strip().str.extract(r"^([0-9.]+)[eE]([-+]?\d+)$")
    mantissa, exponent = _to_float(parts[0]), _to_float(parts[1])
    underflow = (p == 0) & (mantissa > 0)
    exact = -(np.log10(mantissa.where(mantissa > 0)) + exponent)
    return log10p.where(~underflow, exact)


def _derive_se(beta: pd.Series, log10p: pd.Series) -> pd.Series:
    """SE = |BETA| / z with z = Phi^-1(1 - P/2), computed in log space."""
    log_half_p = -log10p.to_numpy() * np.log(10.0) - np.log(2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = -ndtri_exp(log_half_p)
        return pd.Series(np.abs(beta.to_numpy()) / z, index=beta.index)


def _build_frame(raw: pd.DataFrame, cols: dict[str, str], notes: list[str]) -> pd.DataFrame:
    """Convert the raw text columns into the scheme, deriving what is missing."""
    out = pd.DataFrame(index=raw.index)
    out["CHR"] = normalise_chrom(raw[cols["CHR"]].fillna(""))
    out["POS"] = _to_float(raw[cols["POS"]])
    out["EA"] = raw[cols["EA"]].fillna("").astype(str).str.strip().str.upper()
    out["OA"] = raw[cols["OA"]].fillna("").astype(str).str.strip().str.upper()
    if "_ALT" in cols:
        alt = raw[cols["_ALT"]].fillna("").astype(str).str.strip().str.upper()
        out["OA"] = out["OA"].where(out["EA"] == alt, alt)
        notes.append("plink2 A1/REF/ALT columns: OA is the one of REF/ALT that is not A1")
    synthetic = out["CHR"] + ":" + raw[cols["POS"]].astype(str) + ":" + out["OA"] + ":" + out["EA"]
    if "ID" in cols:
        out["ID"] = raw[cols["ID"]].str.strip().fillna(synthetic)
    else:
        out["ID"] = synthetic
        notes.append("no variant ID column: ID set to CHR:POS:OA:EA")
    for name in ("EAF", "N"):
        out[name] = _to_float(raw[cols[name]]) if name in cols else np.nan
    if "BETA" in cols:
        out["BETA"] = _to_float(raw[cols["BETA"]])
    else:
        odds = _to_float(raw[cols["OR"]])
        out["BETA"] = np.log(odds.where(odds > 0))
        notes.append(f"BETA = log({cols['OR']}); SE must be the SE of log(OR)")
    if "LOG10P" in cols:
        out["LOG10P"] = _to_float(raw[cols["LOG10P"]])
    else:
        out["LOG10P"] = _log10p_from_text(raw[cols["P"]])
    out["P"] = np.power(10.0, -out["LOG10P"])
    if "SE" in cols:
        out["SE"] = _to_float(raw[cols["SE"]])
    else:
        out["SE"] = _derive_se(out["BETA"], out["LOG10P"])
        notes.append("no SE column: SE derived as |BETA| / Phi^-1(1 - P/2)")
    return out[READ_COLUMNS]


def _invalid_rows(df: pd.DataFrame) -> dict[str, pd.Series]:
    """Reason -> boolean mask of the rows that fail it."""
    pos_ok = df["POS"].notna() & (df["POS"] > 0) & (df["POS"] % 1 == 0)
    return {
        "CHR missing": df["CHR"].isin(["", "NAN", "NONE"]),
        "POS missing or not a positive integer": ~pos_ok,
        "allele missing": (df["EA"].isin(["", "NAN"])) | (df["OA"].isin(["", "NAN"])),
        "EA equals OA": df["EA"] == df["OA"],
        "BETA missing or not finite": ~np.isfinite(df["BETA"]),
        "P missing or outside (0, 1]": ~(np.isfinite(df["LOG10P"]) & (df["LOG10P"] >= 0)),
        "SE missing, not finite or <= 0": ~(np.isfinite(df["SE"]) & (df["SE"] > 0)),
        "EAF outside [0, 1]": (df["EAF"] < 0) | (df["EAF"] > 1),
    }


def _drop_invalid(df: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Drop rows failing any check; count each row once, under its first failed check."""
    bad = pd.Series(False, index=df.index)
    dropped: dict[str, int] = {}
    for reason, mask in _invalid_rows(df).items():
        new = mask & ~bad
        if new.any():
            dropped[reason] = int(new.sum())
        bad |= mask
    return df.loc[~bad], dropped


def read_sumstats(path: str | Path, column_map: dict[str, str] | None = None) -> pd.DataFrame:
    """Read external GWAS summary statistics into the project scheme.

    Returns ``CHR POS ID EA OA EAF N BETA SE P LOG10P`` (``LOG10P`` = -log10 P keeps
    p-values below 1e-308). Rows failing validation are dropped; the counts per
    reason are logged and kept in ``df.attrs["dropped"]``, derivations in
    ``df.attrs["notes"]``. ``column_map`` (scheme name -> header) overrides aliases.
    """
    path = Path(path)
    sep = _sniff_separator(path)
    with _open_text(path) as handle:
        raw = pd.read_csv(handle, sep=sep, dtype=str, na_values=NA_VALUES, keep_default_na=False)
    headers = [str(c) for c in raw.columns]
    cols = _resolve_columns(path, headers, column_map)
    notes: list[str] = []
    df, dropped = _drop_invalid(_build_frame(raw, cols, notes))
    df = df.astype({"POS": "int64"}).reset_index(drop=True)
    for note in notes:
        _LOG.info("%s: %s", path, note)
    for reason, count in dropped.items():
        _LOG.warning("%s: dropped %d rows: %s", path, count, reason)
    if df.empty:
        raise InputError(
            path,
            f"no valid rows remain after validation (dropped: {dropped or 'file has no rows'})",
            "check the file's columns and data.sumstats_columns in the config",
        )
    df.attrs = {"source": str(path), "n_read": len(raw), "dropped": dropped, "notes": notes}
    return df


# ---------------------------------------------------------------------------
# The GWAS stage's own files
# ---------------------------------------------------------------------------


def read_multi_trait(path: str | Path) -> pd.DataFrame:
    """A multi-trait sumstats file of the GWAS stage (one chromosome or merged)."""
    return pd.read_csv(path, sep="\t", dtype={"CHR": str, "ID": str, "EA": str, "OA": str})


def builtin_frames(scan: BuiltinScan) -> tuple[Iterator[pd.DataFrame], pd.DataFrame]:
    """The built-in scan's kept variants in this scheme: per-dimension rows one trait at
    a time (each frame made when asked for, so that writing never holds variants x D
    rows) and the multi-trait table.

    String columns by ``take`` on the .bim's own arrays (no re-parsing of millions of
    strings), shared by every frame; statistics as float64 columns.
    """
    bim, names, keep = scan.bim, scan.names, scan.keep
    every = bool(keep.all())

    def select(values: np.ndarray) -> np.ndarray:
        return values if every else values[keep]

    def kept(values: np.ndarray) -> np.ndarray:  # statistics, as float64
        return select(values).astype(np.float64, copy=False)

    rows = select(scan.rows)
    columns = {"CHR": "CHR", "POS": "POS", "ID": "ID", "EA": "A1", "OA": "A2"}
    variants = {name: bim[col].array.take(rows) for name, col in columns.items()}
    variants.update(EAF=kept(scan.eaf), N=select(scan.n_obs))
    chisq_mlog10p = kept(scan.chisq_mlog10p)
    multi_df = pd.DataFrame(variants, copy=False).assign(
        CHISQ=kept(scan.chisq),
        DF=len(names),
        P=np.exp(-LN10 * chisq_mlog10p),
        LOG10P=chisq_mlog10p,
    )

    def per_trait() -> Iterator[pd.DataFrame]:
        for j, name in enumerate(names):
            mlog10p = kept(scan.mlog10p[:, j])
            stats = {"BETA": kept(scan.beta[:, j]), "SE": kept(scan.se[:, j])}
            stats.update(P=np.exp(-LN10 * mlog10p), LOG10P=mlog10p, TRAIT=name)
            yield pd.DataFrame({**variants, **stats}, copy=False)

    return per_trait(), multi_df


def builtin_tables(scan: BuiltinScan) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-dimension (long, trait-major: all variants of the first trait, then the next)
    and multi-trait tables: :func:`builtin_frames` with the trait frames concatenated."""
    per_trait, multi_df = builtin_frames(scan)
    return pd.concat(list(per_trait), ignore_index=True), multi_df
