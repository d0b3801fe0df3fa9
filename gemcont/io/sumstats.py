"""The one summary-statistics column scheme used by every stage and engine.

Per-dimension (or single-trait) files: ``CHR POS ID EA OA EAF N BETA SE P``.
Multi-trait files: ``CHR POS ID EA OA EAF N CHISQ DF P``.
``EA`` is the counted allele (.bim column 5, see :mod:`gemcont.io.plink`).
Files are tab-separated, optionally gzipped, with a header line.
"""

from __future__ import annotations

import bz2
import gzip
import logging
import lzma
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.special import ndtri_exp

from gemcont.errors import InputError
from gemcont.gwas.pvalues import LN10
from gemcont.io import sumstats_layouts as _layouts
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

READ_COLUMNS = [*SINGLE_TRAIT_COLUMNS, "LOG10P"]
DROP_COLUMNS = ["ID", "CHR", "POS", "EA", "OA", "LOG10P", "STATUS", "REASON"]
DROPPED_AT_READ = "dropped_at_read"
# rows that are no variant effect (covariate TEST rows, repeated header lines): listed in
# the report under their own status, never counted as lost hits
NOT_A_VARIANT = "not_a_variant"
REQUIRED = ("CHR", "POS", "EA", "OA")
_Z975 = 1.959963984540054  # Phi^-1(0.975): a 95% interval spans 2 * _Z975 standard errors
_FIX = "name the file's header for each scheme column under data.sumstats_columns in the config"
# magic bytes -> compression; pandas reads these (zstd through the zstandard package)
_COMPRESSIONS = {b"\x1f\x8b": "gzip", b"\x28\xb5\x2f\xfd": "zstd", b"BZh": "bz2"}
_COMPRESSIONS |= {b"\xfd7zXZ\x00": "xz"}
_UNREAD_COMPRESSIONS = {b"PK\x03\x04": "zip", b"\x04\x22\x4d\x18": "lz4"}
_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedSumstats:
    """An external sumstats file in the project scheme, with what reading it did.

    ``frame``: ``READ_COLUMNS`` (CHR "" and POS 0 where the layout has no position, OA ""
    where it has no other allele); ``dropped``: one row per input row dropped while reading
    (``DROP_COLUMNS``, STATUS ``dropped_at_read``); ``columns``: name -> header used;
    ``codes``: CHR, EA and OA of ``frame`` as (codes, values), ``values[codes]`` being the
    column, for :func:`gemcont.panel.harmonise.harmonise` (so that it does not hash the
    columns again).
    """

    frame: pd.DataFrame
    dropped: pd.DataFrame
    layout: str
    columns: dict[str, str]
    notes: list[str]
    n_read: int
    codes: dict[str, tuple[np.ndarray, np.ndarray]] | None = None


def normalise_chrom(chrom: pd.Series) -> pd.Series:
    """Chromosome codes as the fileset's (:mod:`gemcont.io.chromosomes`): 'chr1'/'01' ->
    '1'; 23-26, M and any case of X, Y, XY, MT -> X, Y, XY, MT (each distinct code
    normalised once)."""
    inverse, codes = pd.factorize(chrom.astype(str))
    normalised = np.asarray([normalise_published(c) for c in codes], dtype=object)
    return pd.Series(normalised[inverse], index=chrom.index, dtype=str)


def _compression(path: Path) -> str | None:
    """The file's compression from its magic bytes (never its suffix)."""
    try:
        with path.open("rb") as handle:
            magic = handle.read(6)
    except FileNotFoundError as err:
        raise InputError(path, "file not found", "check data.sumstats in the config") from err
    for prefix, name in _UNREAD_COMPRESSIONS.items():
        if magic.startswith(prefix):
            raise InputError(
                path,
                f"the file is {name}-compressed, which is not read",
                "decompress it, or recompress it with gzip, bgzip or zstd",
            )
    return next((name for prefix, name in _COMPRESSIONS.items() if magic.startswith(prefix)), None)


def _open_text(path: Path, compression: str | None) -> IO[str]:
    if compression == "zstd":
        try:
            import zstandard
        except ImportError as err:
            raise InputError(
                path,
                "the file is zstd-compressed and the zstandard package is not installed",
                "pip install zstandard (requirements.txt), or decompress the file",
            ) from err
        return zstandard.open(path, "rt")
    openers = {"gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}
    return openers[compression](path, "rt") if compression else path.open("rt")


def _header(path: Path, compression: str | None) -> tuple[str, list[str]]:
    """Separator (tab, comma or whitespace) and header names of the first line."""
    try:
        with _open_text(path, compression) as handle:
            line = handle.readline()
    except (OSError, EOFError, UnicodeDecodeError, ValueError) as err:
        what = f"{compression}-compressed " if compression else ""
        raise InputError(
            path,
            f"the {what}file cannot be read as text ({type(err).__name__}: {err})",
            "supply a plain-text, gzip/bgzip or zstd-compressed sumstats file",
        ) from err
    if not line.strip():
        raise InputError(path, "empty file (no header line)", "supply a file with a header line")
    sep = "\t" if "\t" in line else "," if "," in line else r"\s+"
    names = line.rstrip("\r\n").split(sep) if sep != r"\s+" else line.split()
    return sep, [n.strip() for n in names]


def _validate_map(path: Path, column_map: dict[str, str], headers: list[str], layout: str) -> None:
    """Unknown or wrong-case keys and headers that do not exist stop here."""
    for key, header in column_map.items():
        if key not in _layouts.MAP_KEYS:
            hint = (
                f"did you mean '{key.upper()}'? (keys are upper case)"
                if key.upper() in _layouts.MAP_KEYS
                else f"scheme names are {' '.join(_layouts.MAP_KEYS)}"
            )
            raise InputError(
                path,
                f"data.sumstats_columns key '{key}' is not a scheme name ({hint}); "
                f"layout detected: {layout}",
                _FIX,
            )
        if header not in headers:
            raise InputError(
                path,
                f"data.sumstats_columns maps {key} to '{header}', which is not a header; "
                f"headers found: {headers}; layout detected: {layout}",
                _FIX,
            )


def _generic_columns(headers: list[str], column_map: dict[str, str]) -> dict[str, str]:
    """Scheme name -> header, from ``column_map`` first, then aliases (any case)."""
    by_upper = {h.upper(): h for h in headers}
    resolved = dict(column_map)
    for name, aliases in _layouts.ALIASES.items():
        if name not in resolved:
            found = next((by_upper[a] for a in aliases if a in by_upper), None)
            if found is not None and found not in resolved.values():
                resolved[name] = found
    # plink2-like files name the tested allele A1 next to REF/ALT: OA is then 'the other'
    plink2 = {"A1", "REF", "ALT"} <= by_upper.keys()
    if plink2 and resolved.get("EA") == by_upper["A1"] and "OA" not in column_map:
        resolved["OA"], resolved["_ALT"] = by_upper["REF"], by_upper["ALT"]
    return resolved


def _refuse_allele1_allele2(
    path: Path, headers: list[str], column_map: dict[str, str], resolved: dict[str, str]
) -> None:
    """Allele1 beside Allele2 names no effect allele: METAL's is Allele1, SAIGE's Allele2.
    A file of neither recognised layout must say which (the generic alias would take
    Allele1, and a map of OA alone would then flip every sign of a SAIGE file)."""
    by_upper = {h.upper(): h for h in headers}
    taken = resolved.get("EA", "")
    if "EA" in column_map or taken.upper() != "ALLELE1" or "ALLELE2" not in by_upper:
        return
    raise InputError(
        path,
        f"the effect allele is ambiguous: the file has '{taken}' and "
        f"'{by_upper['ALLELE2']}' but is neither a METAL file (effect allele Allele1; "
        f"header {' '.join(_layouts.METAL.signature)}) nor a SAIGE file (effect allele "
        f"Allele2; header {' '.join(_layouts.SAIGE.signature)}); headers found: {headers}",
        "map EA to the effect allele's column and OA to the other under "
        "data.sumstats_columns (SAIGE: EA: Allele2, OA: Allele1; METAL: EA: Allele1, "
        "OA: Allele2)",
    )


def _layout_with_map(
    path: Path, layout: _layouts.Layout, headers: list[str], column_map: dict[str, str]
) -> dict[str, str]:
    """The layout's columns, the explicit map over them, checked for one orientation."""
    resolved = _layouts.layout_columns(layout, headers)
    # an explicit column replaces the layout's alternatives for the same quantity
    replaces = {"BETA": ("OR", "Z"), "OR": ("BETA", "Z"), "Z": ("BETA", "OR")}
    replaces |= {"P": ("LOG10P",), "LOG10P": ("P",), "ID": _layouts.ID_FALLBACKS}
    for key in column_map:
        for other in replaces.get(key, ()):
            resolved.pop(other, None)
    plink2_pair = column_map.get("EA", resolved.get("EA")) == resolved.get("EA")
    if "_ALT" in resolved and ("OA" in column_map or not plink2_pair):
        del resolved["_ALT"]
    resolved.update(column_map)
    ea = resolved.get("EA")
    where = f"in a {layout.title} file (layout {layout.name})"
    for key in ("BETA", "OR", "Z", "EAF"):
        owner = layout.effect_of.get(resolved.get(key, ""))
        if owner is not None and owner != ea:
            other = layout.other_of.get(owner)
            pair = f"EA to '{owner}'" + (f" and OA to '{other}'" if other else "")
            raise InputError(
                path,
                f"data.sumstats_columns takes EA from '{ea}' but {key} from "
                f"'{resolved[key]}', which is the effect of '{owner}' {where}: every sign "
                "would be flipped",
                f"map {pair}, or leave EA, OA and {key} out of data.sumstats_columns "
                "(the layout's own columns are used)",
            )
    other = layout.other_of.get(ea or "")
    if other and "_ALT" not in resolved and resolved.get("OA", other) != other:
        raise InputError(
            path,
            f"data.sumstats_columns takes EA from '{ea}' but OA from '{resolved['OA']}'; "
            f"'{ea}' pairs with '{other}' {where}",
            f"map OA to '{other}', or leave EA and OA out of data.sumstats_columns",
        )
    return resolved


def _resolve_columns(
    path: Path, headers: list[str], column_map: dict[str, str] | None
) -> tuple[_layouts.Layout | None, dict[str, str]]:
    """The detected layout (None: generic) and name -> header for everything to read."""
    if _layouts.is_plink1_qassoc(headers):
        raise InputError(
            path,
            "this is PLINK 1.9 --assoc output for a quantitative trait (.qassoc: CHR SNP BP "
            "NMISS BETA SE R2 T P), which names no allele, so the sign of BETA cannot be "
            "tied to an allele",
            "rerun with plink --linear (A1 is written), or plink2 --glm",
        )
    layout = _layouts.detect_layout(headers)
    name = layout.name if layout else "generic"
    column_map = dict(column_map or {})
    _validate_map(path, column_map, headers, name)
    if layout is None:
        resolved = _generic_columns(headers, column_map)
        _refuse_allele1_allele2(path, headers, column_map, resolved)
    else:
        resolved = _layout_with_map(path, layout, headers, column_map)
    optional = _layouts.optional_columns(layout, REQUIRED) if layout else set()
    required = [n for n in REQUIRED if n not in optional]
    missing = [n for n in required if n not in resolved]
    if not {"BETA", "OR", "Z"} & resolved.keys():
        missing.append("BETA (or OR)")
    if "P" not in resolved and "LOG10P" not in resolved:
        missing.append("P (or LOG10P)")
    if "Z" in resolved and not {"BETA", "OR"} & resolved.keys() and "N" not in resolved:
        missing.append("N (a Z-score file needs it for BETA = Z/sqrt(N))")
    if missing:
        looked = {m.split()[0]: _layouts.ALIASES.get(m.split()[0], ()) for m in missing}
        raise InputError(
            path,
            f"no column for {', '.join(missing)} (layout detected: {name}; looked for "
            f"headers {looked}, any case); headers found: {headers}",
            _FIX,
        )
    return layout, resolved


def _read_table(
    path: Path, compression: str | None, sep: str, cols: dict[str, str], missing: tuple[str, ...]
) -> tuple[pd.DataFrame, bool]:
    """The needed columns, numbers parsed as numbers; a file whose numeric columns hold
    text (a repeated header line, a stray token) is read again as text and coerced.
    Returns the frame and whether it was read as text."""
    usecols = sorted(set(cols.values()))
    text = {h for n, h in cols.items() if n in _layouts.TEXT_COLUMNS}
    options = dict(
        sep=sep,
        usecols=usecols,
        na_values=list(missing),
        keep_default_na=False,
        compression=compression,
    )
    try:
        dtypes = {h: (str if h in text else "float64") for h in usecols}
        return pd.read_csv(path, dtype=dtypes, **options), False
    except ValueError:
        pass  # an unparsable number: read every column as text, coerce below
    except (OSError, EOFError) as err:
        raise InputError(
            path,
            f"the file cannot be read ({type(err).__name__}: {err}); truncated or corrupt?",
            "supply the complete file (check its download)",
        ) from err
    return pd.read_csv(path, dtype=str, **options), True


def _number(raw: pd.DataFrame, cols: dict[str, str], name: str) -> pd.Series:
    if name not in cols:
        return pd.Series(np.nan, index=raw.index)
    column = raw[cols[name]]
    if column.dtype == np.float64:
        return column  # parsed as numbers (to_numeric would copy it)
    return pd.to_numeric(column, errors="coerce").astype("float64")


def _codes(
    raw: pd.DataFrame, cols: dict[str, str], name: str, transform: Callable[[str], str]
) -> tuple[np.ndarray, np.ndarray]:
    """A text column factorised: (codes, values), each distinct value transformed once
    (10 million rows hold a few dozen chromosome codes and alleles); missing -> ""."""
    if name not in cols:
        return np.zeros(len(raw), dtype=np.intp), np.array([""], dtype=object)
    # an object array: pandas' str-dtype factorize takes twice as long (benchmarks/README.md)
    codes, uniques = pd.factorize(raw[cols[name]].to_numpy(dtype=object))
    values = np.array([transform(str(v)) for v in uniques] + [""], dtype=object)
    codes[codes < 0] = len(values) - 1  # (factorize's own array)
    return codes, values


def _allele(value: str) -> str:
    return value.strip().upper()


def _alleles(raw: pd.DataFrame, cols: dict[str, str]) -> dict[str, np.ndarray]:
    """EA, OA (and _ALT) as codes into one shared vocabulary (``"VOCAB"``), so that
    comparing alleles compares integers."""
    parts = {n: _codes(raw, cols, n, _allele) for n in ("EA", "OA", "_ALT") if n in cols}
    if "OA" not in parts:
        parts["OA"] = _codes(raw, cols, "OA", _allele)
    vocab, inverse = np.unique(np.concatenate([v for _, v in parts.values()]), return_inverse=True)
    out: dict[str, np.ndarray] = {"VOCAB": vocab}
    start = 0
    for name, (codes, values) in parts.items():
        out[name] = inverse[start : start + len(values)][codes]
        start += len(values)
    return out


def _log10p_from_text(p_text: pd.Series) -> pd.Series:
    """-log10(P) from the text, exact even where P underflows a double (1e-400)."""
    p = pd.to_numeric(p_text, errors="coerce").astype("float64")
    with np.errstate(divide="ignore"):
        log10p = -np.log10(p.where(p > 0))
    parts = p_text.astype(str).str.strip().str.extract(r"^([0-9.]+)[eE]([-+]?\d+)$")
    mantissa = pd.to_numeric(parts[0], errors="coerce")
    exponent = pd.to_numeric(parts[1], errors="coerce")
    underflow = (p == 0) & (mantissa > 0)
    exact = -(np.log10(mantissa.where(mantissa > 0)) + exponent)
    return log10p.where(~underflow, exact)


def _log10p(path: Path, raw: pd.DataFrame, cols: dict[str, str], as_text: bool, read) -> pd.Series:
    """LOG10P from the file's LOG10P column, else from P (text re-read only where P
    underflowed to 0, so that P below 1e-308 keeps its exact LOG10P)."""
    if "LOG10P" in cols:
        return _number(raw, cols, "LOG10P")
    if as_text:
        return _log10p_from_text(raw[cols["P"]])
    p = raw[cols["P"]]
    values = p.to_numpy(dtype=float)
    minus = np.where(values > 0, values, np.nan)  # one new array, logged in place
    with np.errstate(divide="ignore"):
        np.log10(minus, out=minus)
    log10p = pd.Series(np.negative(minus, out=minus), index=raw.index, name=p.name)
    zero = values == 0
    if zero.any():
        p_text = read(cols["P"])
        log10p[zero] = _log10p_from_text(p_text[zero]).to_numpy()
    return log10p


def _derive_se(beta: pd.Series, log10p: pd.Series) -> pd.Series:
    """SE = |BETA| / z with z = Phi^-1(1 - P/2), computed in log space."""
    log_half_p = -log10p.to_numpy() * np.log(10.0) - np.log(2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = -ndtri_exp(log_half_p)
        return pd.Series(np.abs(beta.to_numpy()) / z, index=beta.index)


def _effect(
    raw: pd.DataFrame, cols: dict[str, str], notes: list[str]
) -> tuple[pd.Series, pd.Series]:
    """BETA and SE (SE NaN where the file gives none), from BETA, OR or Z (two columns, not
    a table: a table would copy them into one block)."""
    beta, se = _number(raw, cols, "BETA"), _number(raw, cols, "SE")
    on_or = pd.Series(False, index=raw.index)
    if "OR" in cols:
        odds = _number(raw, cols, "OR")
        on_or = beta.isna() & odds.notna()
        with np.errstate(divide="ignore", invalid="ignore"):
            beta = beta.where(~on_or, np.log(odds.where(odds > 0)))
        if on_or.any():
            notes.append(
                f"BETA = log({cols['OR']}) for {int(on_or.sum())} rows; SE must be the SE of "
                "log(OR)"
            )
    if "Z" in cols and "BETA" not in cols and "OR" not in cols:
        root_n = np.sqrt(_number(raw, cols, "N"))
        beta, se = _number(raw, cols, "Z") / root_n, 1.0 / root_n
        notes.append(
            f"Z-score file: BETA = {cols['Z']}/sqrt({cols['N']}), SE = 1/sqrt({cols['N']}) "
            "(effect in standard-deviation units of a standardised trait)"
        )
    if {"_BETA_SUBMITTED", "_OR_SUBMITTED"} & cols.keys() and "SE" in cols:
        submitted = _number(raw, cols, "_BETA_SUBMITTED")
        if "_OR_SUBMITTED" in cols:
            odds = _number(raw, cols, "_OR_SUBMITTED")
            with np.errstate(divide="ignore", invalid="ignore"):
                submitted = submitted.fillna(np.log(odds.where(odds > 0)))
        # the submitted SE belongs to the harmonised effect only where that is the same
        # estimate, possibly flipped (an SE does not change with the allele orientation)
        same = np.isclose(beta.abs(), submitted.abs(), rtol=1e-4, atol=1e-12)
        n_other = int((se.notna() & ~same).sum())
        se = se.where(same)
        notes.append(
            f"{cols['SE']} used only where |{cols.get('BETA', 'BETA')}| equals the submitted "
            f"|effect| (the same estimate, possibly flipped); {n_other} rows without it take "
            "SE from the 95% interval, else from P"
        )
    if {"_CI_LOWER", "_CI_UPPER"} <= cols.keys() and se.isna().any():
        lower, upper = _number(raw, cols, "_CI_LOWER"), _number(raw, cols, "_CI_UPPER")
        with np.errstate(divide="ignore", invalid="ignore"):
            width = (upper - lower).where(~on_or, np.log(upper) - np.log(lower))
        from_ci = se.isna() & (width > 0)
        se = se.where(~from_ci, width / (2 * _Z975))
        if from_ci.any():
            notes.append(f"SE from the 95% interval for {int(from_ci.sum())} rows")
    return beta, se


def _build_frame(
    path: Path,
    raw: pd.DataFrame,
    cols: dict[str, str],
    as_text: bool,
    read: Callable[[str], pd.Series],
    notes: list[str],
    flags: dict[str, np.ndarray],
    found: dict[str, tuple[np.ndarray, np.ndarray]],
) -> pd.DataFrame:
    """The raw columns in the scheme (all rows), deriving what is missing; ``flags``
    receives the text checks made on distinct values (CHR/allele missing, EA equals OA),
    ``found`` the CHR, EA and OA columns as (codes, values)."""
    out = pd.DataFrame(index=raw.index)
    positioned = {"CHR", "POS"} <= cols.keys()
    if positioned:
        codes, values = _codes(raw, cols, "CHR", lambda c: normalise_published(c.strip()))
        flags["CHR missing"] = np.isin(values, ["", "NAN", "NONE"])[codes]
        out["CHR"] = pd.Series(values.take(codes), index=raw.index, dtype=str)
        out["POS"] = _number(raw, cols, "POS")
        found["CHR"] = (codes, values)
    else:
        out["CHR"], out["POS"] = "", 0.0
        found["CHR"] = (np.zeros(len(raw), dtype=np.intp), np.array([""], dtype=object))
        notes.append("no CHR/POS columns: CHR '' and POS 0, variants matched by ID alone")
    alleles = _alleles(raw, cols)
    vocab = alleles["VOCAB"]
    ea, oa = alleles["EA"], alleles["OA"]
    if "_ALT" in cols:
        oa = np.where(ea == alleles["_ALT"], oa, alleles["_ALT"])
        notes.append("A1/REF/ALT columns: OA is the one of REF/ALT that is not A1")
    if "OA" not in cols:
        notes.append("no other-allele column: OA ''")
    missing_allele = np.isin(vocab, ["", "NAN"])
    flags["EA missing"], flags["OA missing"] = missing_allele[ea], missing_allele[oa]
    flags["EA equals OA"] = ea == oa
    out["EA"] = pd.Series(vocab.take(ea), index=raw.index, dtype=str)
    out["OA"] = pd.Series(vocab.take(oa), index=raw.index, dtype=str)
    found["EA"], found["OA"] = (ea, vocab), (oa, vocab)
    ids = raw[cols["ID"]] if "ID" in cols else pd.Series(np.nan, index=raw.index, dtype=str)
    for fallback in _layouts.ID_FALLBACKS:
        if fallback in cols:
            ids = ids.where(ids.notna(), raw[cols[fallback]])
    no_id = ids.isna().to_numpy()
    if no_id.any():
        part = out.loc[no_id]
        pos = part["POS"].fillna(0).astype("int64").tolist()
        text = [part[c].to_numpy(dtype=object) for c in ("CHR", "OA", "EA")]
        made = [f"{c}:{p}:{o}:{e}" for c, p, o, e in zip(text[0], pos, *text[1:], strict=True)]
        ids[no_id] = np.array(made, dtype=object)  # (one string a row: 4x faster than +)
        notes.append(f"{int(no_id.sum())} rows without a variant ID: ID set to CHR:POS:OA:EA")
    out["ID"] = ids.astype(str)
    out["EAF"] = _number(raw, cols, "EAF")
    out["N"] = _number(raw, cols, "N")
    if "N" not in cols and {"_N_CASE", "_N_CTRL"} <= cols.keys():
        out["N"] = _number(raw, cols, "_N_CASE") + _number(raw, cols, "_N_CTRL")
        notes.append(f"N = {cols['_N_CASE']} + {cols['_N_CTRL']}")
    out["LOG10P"] = _log10p(path, raw, cols, as_text, read)
    minus = np.negative(out["LOG10P"].to_numpy(dtype=float))  # a new array: powered in place
    out["P"] = np.power(10.0, minus, out=minus)
    beta, se = _effect(raw, cols, notes)
    out["BETA"] = beta
    out["SE"] = se
    harmonised = bool({"_BETA_SUBMITTED", "_OR_SUBMITTED"} & cols.keys())
    if "SE" not in cols or (harmonised and se.isna().any()):
        derive = out["SE"].isna()
        out.loc[derive, "SE"] = _derive_se(out.loc[derive, "BETA"], out.loc[derive, "LOG10P"])
        notes.append(f"SE derived as |BETA| / Phi^-1(1 - P/2) for {int(derive.sum())} rows")
    return out[READ_COLUMNS]


def _not_variant_rows(
    raw: pd.DataFrame, cols: dict[str, str], as_text: bool
) -> list[tuple[str, pd.Series | np.ndarray]]:
    """Rows that are no variant effect: repeated header lines, TEST other than ADD."""
    drops: list[tuple[str, pd.Series | np.ndarray]] = []
    if as_text:
        ea = raw[cols["EA"]]
        drops.append(("repeated header line", ea == cols["EA"]))
    if "_TEST" in cols:
        test = raw[cols["_TEST"]].fillna("")
        for value in test.unique():
            if value != "ADD":
                shown = value or "missing"
                reason = f"TEST is {shown} (only ADD rows are variant effects)"
                drops.append((reason, test == value))
    return drops


def _layout_drops(
    raw: pd.DataFrame, cols: dict[str, str]
) -> list[tuple[str, pd.Series | np.ndarray]]:
    """Variant rows the layout marks unusable: GWAS Catalog rows its harmoniser could
    not harmonise."""
    drops: list[tuple[str, pd.Series | np.ndarray]] = []
    if "_HM_CODE" in cols:
        code = raw[cols["_HM_CODE"]].fillna("").str.strip().str.removesuffix(".0")
        for value, meaning in _layouts.HM_CODES_UNHARMONISED.items():
            drops.append((f"hm_code {value}: {meaning}", code == value))
    if {"hm_effect_allele", "hm_other_allele"} <= set(raw.columns):
        unharmonised = raw["hm_effect_allele"].isna() | raw["hm_other_allele"].isna()
        drops.append(("hm_effect_allele/hm_other_allele missing: not harmonised", unharmonised))
    return drops


def _invalid_rows(
    df: pd.DataFrame, flags: dict[str, np.ndarray], has_position: bool, has_other: bool
) -> list[tuple[str, pd.Series | np.ndarray]]:
    """Reason -> boolean mask of the rows that fail it."""
    pos = df["POS"].to_numpy(dtype=float)
    pos_ok = np.isfinite(pos) & (pos > 0) & (np.trunc(pos) == pos)  # (% 1 is slow)
    allele_missing = flags["EA missing"] | (flags["OA missing"] if has_other else False)
    checks: list[tuple[str, pd.Series | np.ndarray]] = []
    if has_position:
        checks += [
            ("CHR missing", flags["CHR missing"]),
            ("POS missing or not a positive integer", ~pos_ok),
        ]
    return [
        *checks,
        ("allele missing", allele_missing),
        ("EA equals OA", flags["EA equals OA"]),
        ("BETA missing or not finite", ~np.isfinite(df["BETA"])),
        ("P missing or outside (0, 1]", ~(np.isfinite(df["LOG10P"]) & (df["LOG10P"] >= 0))),
        ("SE missing, not finite or <= 0", ~(np.isfinite(df["SE"]) & (df["SE"] > 0))),
        ("EAF outside [0, 1]", (df["EAF"] < 0) | (df["EAF"] > 1)),
    ]


def _first_reasons(
    n_rows: int, checks: list[tuple[str, pd.Series | np.ndarray]]
) -> tuple[np.ndarray, np.ndarray]:
    """The rows failing a check and, for each, the text of its first failed check."""
    first = np.full(n_rows, -1, dtype=np.int16)
    for k, (_, mask) in enumerate(checks):
        first[np.asarray(mask, dtype=bool) & (first < 0)] = k
    bad = first >= 0
    texts = np.array([text for text, _ in checks] or [""], dtype=object)
    return bad, texts.take(first[bad])


def load_sumstats(path: str | Path, column_map: dict[str, str] | None = None) -> LoadedSumstats:
    """Read external GWAS summary statistics into the project scheme.

    The layout (FinnGen, GWAS-SSF, GWAS Catalog harmonised, PLINK 2 --glm, REGENIE,
    BOLT-LMM, SAIGE, METAL, PLINK 1.9; :mod:`gemcont.io.sumstats_layouts`) is recognised
    from the header and decides the effect allele, the missing-value tokens and the rows
    kept; files of no known layout go through the header aliases. ``column_map`` (scheme
    name -> header, ``data.sumstats_columns``) overrides single columns and is checked for
    unknown keys, missing headers and mixed allele orientations. gzip/bgzip, zstd, bz2 and
    xz are recognised by their magic bytes. ``LOG10P`` keeps p-values below 1e-308.
    """
    path = Path(path)
    compression = _compression(path)
    sep, headers = _header(path, compression)
    layout, cols = _resolve_columns(path, headers, column_map)
    name = layout.name if layout else "generic"
    missing = layout.missing if layout else _layouts.GENERIC_MISSING
    raw, as_text = _read_table(path, compression, sep, cols, missing)

    def read_text(header: str) -> pd.Series:
        options = dict(sep=sep, usecols=[header], dtype=str, compression=compression)
        return pd.read_csv(path, na_values=list(missing), keep_default_na=False, **options)[header]

    notes = [f"layout {name}" + (f": {layout.rule}" if layout else ": header aliases")]
    if layout and "P" in cols and len(layout.columns.get("P", ())) > 1:
        notes.append(f"P from {cols['P']}")
    flags: dict[str, np.ndarray] = {}
    codes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    frame = _build_frame(path, raw, cols, as_text, read_text, notes, flags, codes)
    not_variants = _not_variant_rows(raw, cols, as_text)
    checks = not_variants + _layout_drops(raw, cols)
    checks += _invalid_rows(frame, flags, {"CHR", "POS"} <= cols.keys(), "OA" in cols)
    bad, reasons = _first_reasons(len(frame), checks)
    status = np.where(
        pd.Series(reasons).isin([reason for reason, _ in not_variants]),
        NOT_A_VARIANT,
        DROPPED_AT_READ,
    )
    dropped = frame.loc[bad, DROP_COLUMNS[:6]].assign(STATUS=status, REASON=reasons)
    counts = {r: int(c) for r, c in dropped["REASON"].value_counts(sort=False).items()}
    if bad.any():  # (no copy of every column where no row is dropped)
        frame = frame.loc[~bad]
        codes = {name: (c[~bad], values) for name, (c, values) in codes.items()}
    frame = frame.astype({"POS": "int64"}).reset_index(drop=True)
    for note in notes:
        _LOG.info("%s: %s", path, note)
    for text, count in counts.items():
        _LOG.warning("%s: dropped %d rows: %s", path, count, text)
    if frame.empty:
        raise InputError(
            path,
            f"no valid rows remain after validation (layout {name}; dropped: "
            f"{counts or 'file has no rows'})",
            "check the file's columns and data.sumstats_columns in the config",
        )
    frame.attrs = {"source": str(path), "n_read": len(raw), "dropped": counts, "notes": notes}
    return LoadedSumstats(
        frame=frame,
        dropped=dropped.reset_index(drop=True),
        layout=name,
        columns=dict(cols),
        notes=notes,
        n_read=len(raw),
        codes={name: (_compact(c, len(values)), values) for name, (c, values) in codes.items()},
    )


def _compact(codes: np.ndarray, n_values: int) -> np.ndarray:
    """Codes in the smallest signed integer type that holds them."""
    return codes.astype(np.min_scalar_type(-n_values), copy=False)


def read_sumstats(path: str | Path, column_map: dict[str, str] | None = None) -> pd.DataFrame:
    """:func:`load_sumstats`' frame: ``CHR POS ID EA OA EAF N BETA SE P LOG10P``, with the
    drop counts per reason in ``attrs["dropped"]`` and the derivations in ``attrs["notes"]``."""
    return load_sumstats(path, column_map).frame


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
