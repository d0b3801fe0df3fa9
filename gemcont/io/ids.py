"""The one place where people are identified: every table is keyed by (FID, IID) strings.

IDs are read as text (``1001`` stays ``"1001"``, never ``1001.0``) with surrounding
whitespace stripped. Rows with a missing value in a used column are dropped and
remembered in ``table.attrs["dropped"]`` (FID, IID, reason) so that
:func:`join_cohort` can report why each person left the cohort.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from gemcont.errors import InputError
from gemcont.io.tables import require_columns

log = logging.getLogger(__name__)

KEY = ["FID", "IID"]
MISSING_TOKENS = frozenset({"", "NA", "N/A", "NaN", "nan", "NULL", "null", "."})
REPORT_COLUMNS = [*KEY, "step", "reason"]
SHOWN = 5


def _first(values: pd.Series | list[str], n: int = SHOWN) -> str:
    """The first ``n`` values as a comma-separated list, with the total when longer."""
    values = list(dict.fromkeys(values))
    more = f" (and {len(values) - n} more)" if len(values) > n else ""
    return ", ".join(values[:n]) + more


LINE = "_LINE"  # the file line of each row, kept while a table is read (for messages)
FLOAT_ID = r"-?\d+(\.0+|(\.\d+)?[eE][+-]?\d+)"  # an integer written as a float: 1000001.0


def _read_text(path: Path) -> pd.DataFrame:
    """Read a header-led table as strings; tab-separated if the header has a tab.

    Refuses an empty file and a line whose field count differs from the header's (a
    trailing tab), naming the line; the file line of each row is in column ``LINE``.
    """
    try:
        text = path.read_text()
    except FileNotFoundError as err:
        raise InputError(path, "file not found", "check the path in the config") from err
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        size = path.stat().st_size
        raise InputError(
            path, f"empty file ({size} bytes, no header line)", "check the path in the config"
        )
    header = lines[0]
    sep = "\t" if "\t" in header else r"\s+"
    n_fields = [(line.count("\t") + 1 if sep == "\t" else len(line.split())) for line in lines]
    numbers = [k + 1 for k, line in enumerate(lines) if line.strip()]
    for number in numbers:
        if n_fields[number - 1] != n_fields[0]:
            line = lines[number - 1]
            hint = " (a trailing tab)" if line.endswith("\t") else ""
            raise InputError(
                path,
                f"{n_fields[number - 1]} fields but the header has {n_fields[0]}{hint}",
                "write one field per header column on every line (no trailing tabs)",
                f"line {number}",
            )
    table = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, engine="c")
    table.columns = [c.strip().lstrip("#") for c in table.columns]
    empty = [k + 1 for k, c in enumerate(table.columns) if not c or c.startswith("Unnamed: ")]
    if empty:
        raise InputError(
            path,
            f"header column {empty[0]} has no name",
            "name every column in the header line (no trailing tabs)",
            "line 1",
        )
    table = table.apply(lambda col: col.str.strip())
    rows = numbers[1:] if len(numbers) - 1 == len(table) else range(2, len(table) + 2)
    table[LINE] = list(rows)
    return table


def _check_ids(table: pd.DataFrame, path: Path) -> None:
    """Refuse IDs written as floats (``1000001.0``: an ID column saved by pandas with a
    missing value), which would match no one."""
    for col in [c for c in KEY if c in table.columns]:
        floats = table[col].str.fullmatch(FLOAT_ID)
        if floats.any():
            row = table[floats].iloc[0]
            raise InputError(
                path,
                f"{col} {row[col]!r} is a number written as a float; IDs are text and "
                f"match the .fam as written ({int(floats.sum())} such {col}s)",
                f"write the IDs as in the .fam, e.g. 1000001 (pandas: "
                f"df['{col}'] = df['{col}'].astype('Int64') before to_csv)",
                f"line {row[LINE]}",
            )


def fill_fid(
    table: pd.DataFrame, fam: pd.DataFrame, path: Path, name: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Take FID from the .fam by IID (IIDs must be unique there); unknown IIDs are dropped."""
    used = fam[fam["IID"].isin(table["IID"])]
    dup = used["IID"][used["IID"].duplicated()]
    if len(dup):
        raise InputError(
            path,
            f"no FID column and IIDs {_first(dup)} appear more than once in the .fam",
            "add an FID column to the file",
        )
    fid = table["IID"].map(dict(zip(used["IID"], used["FID"], strict=True)))
    table.insert(0, "FID", fid)
    unknown = fid.isna()
    dropped = table.loc[unknown, KEY].fillna("").assign(step=name, reason="IID not in the .fam")
    return table[~unknown].reset_index(drop=True), dropped


def _check_duplicates(table: pd.DataFrame, unique_by: list[str], path: Path) -> None:
    dup = table.duplicated(unique_by, keep=False)
    if dup.any():
        first = table.loc[dup, unique_by].astype(str).agg(" ".join, axis=1)
        raise InputError(
            path,
            f"duplicated {'+'.join(unique_by)}: {_first(first)}",
            "keep one row per person (merge or remove the duplicates)",
        )


def _drop_missing(
    table: pd.DataFrame, columns: list[str], name: str, path: Path
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows with a missing value in ``columns`` are dropped and returned with a reason."""
    missing = table[columns].isin(MISSING_TOKENS)
    bad = missing.any(axis=1)
    reasons = [
        "; ".join(f"missing value in {name}.{c}" for c in row.index[row])
        for _, row in missing[bad].iterrows()
    ]
    dropped = table.loc[bad, KEY].assign(step=name, reason=reasons)
    if bad.any():
        log.warning(
            "%s: dropped %d row(s) with missing values: %s", path, bad.sum(), _first(dropped["IID"])
        )
    return table[~bad].reset_index(drop=True), dropped.reset_index(drop=True)


def _to_numeric(table: pd.DataFrame, numeric: list[str], path: Path) -> pd.DataFrame:
    """Convert ``numeric`` columns to float64; a non-number names its column, IIDs and value."""
    for col in numeric:
        values = pd.to_numeric(table[col], errors="coerce")
        bad = values.isna()
        if bad.any():
            value = table.loc[bad, col].iloc[0]
            where = f"line {table.loc[bad, LINE].iloc[0]}" if LINE in table else None
            raise InputError(
                path,
                f"column {col} has non-numeric value {value!r} "
                f"(IIDs {_first(table.loc[bad, 'IID'])})",
                "use numbers, or NA for a missing value",
                where,
            )
        table[col] = values.astype(np.float64)
    return table


def read_keyed_table(
    path: str | Path,
    required: list[str],
    numeric: list[str],
    name: str,
    fam: pd.DataFrame | None = None,
    unique_by: list[str] | None = None,
) -> pd.DataFrame:
    """Read a whitespace/tab table keyed by (FID, IID) strings.

    ``required`` and ``numeric`` columns must exist; rows missing a value in either are
    dropped and listed in ``attrs["dropped"]``. Without an FID column, FIDs come from
    ``fam`` by IID. ``unique_by`` (default IID) must identify each row.
    """
    path = Path(path)
    table = _read_text(path)
    _check_ids(table, path)
    unknown = pd.DataFrame(columns=REPORT_COLUMNS)
    if "FID" not in table.columns and fam is not None and "IID" in table.columns:
        table, unknown = fill_fid(table, fam, path, name)
    used = list(dict.fromkeys([*KEY, *required, *numeric]))
    require_columns(table, used, path, "add a header line naming these columns")
    _check_duplicates(table, unique_by or ["IID"], path)
    table, dropped = _drop_missing(table, used, name, path)
    table = _to_numeric(table, numeric, path).drop(columns=LINE)
    set_dropped(table, pd.concat([unknown, dropped], ignore_index=True))
    return table


def set_dropped(table: pd.DataFrame, dropped: pd.DataFrame) -> None:
    """Remember who left ``table`` and why (FID IID step reason) in ``table.attrs``.

    Kept as plain records: pandas compares ``attrs`` when it propagates them, and a
    DataFrame there makes ``astype``/``concat`` fail.
    """
    table.attrs["dropped"] = dropped[REPORT_COLUMNS].to_dict("records")


def dropped_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The rows :func:`set_dropped` recorded for ``table`` (FID IID step reason)."""
    return pd.DataFrame(table.attrs.get("dropped", []), columns=REPORT_COLUMNS)


def person_keys(table: pd.DataFrame) -> pd.MultiIndex:
    """The (FID, IID) pair of every row of ``table``, as text."""
    return pd.MultiIndex.from_frame(table[KEY].astype(str))


def _step_drops(
    universe: pd.MultiIndex,
    kept: np.ndarray,
    present: pd.MultiIndex,
    dropped: pd.DataFrame,
    name: str,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Who of the still-kept people leaves at one step, and why."""
    leave = kept & ~universe.isin(present)
    reasons = pd.Series(f"not in {name}", index=universe)
    if len(dropped):
        known = dropped.astype({"FID": str, "IID": str}).groupby(KEY, sort=False)["reason"]
        reasons = known.agg("; ".join).reindex(universe).fillna(f"not in {name}")
    rows = universe[leave].to_frame(index=False).assign(step=name, reason=reasons.to_numpy()[leave])
    return kept & ~leave, rows


def join_cohort(
    tables: dict[str, pd.DataFrame], fam: pd.DataFrame, min_people: int = 1
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """People in the .fam and in every table, in .fam order, and who was dropped and why.

    Returns (cohort: FID IID FAM_ROW, report: FID IID step reason). The report's ``step``
    is categorical in join order (``genotypes`` then each table), for :func:`join_summary`.
    """
    everyone = [fam[KEY]]
    for table in tables.values():
        everyone += [table[KEY], dropped_rows(table)[KEY]]
    universe = pd.MultiIndex.from_frame(
        pd.concat(everyone, ignore_index=True).astype(str).drop_duplicates()
    )
    kept = np.ones(len(universe), dtype=bool)
    kept, rows = _step_drops(universe, kept, person_keys(fam), pd.DataFrame(), "genotypes (.fam)")
    reports = [rows]
    for name, table in tables.items():
        kept, rows = _step_drops(universe, kept, person_keys(table), dropped_rows(table), name)
        reports.append(rows)
    steps = ["genotypes (.fam)", *tables]
    report = pd.concat(reports, ignore_index=True)[REPORT_COLUMNS]
    report["step"] = pd.Categorical(report["step"], categories=steps, ordered=True)
    fam_keys = person_keys(fam)
    in_cohort = fam_keys.isin(universe[kept])
    cohort = fam.loc[in_cohort, KEY].astype(str).reset_index(drop=True)
    cohort["FAM_ROW"] = np.flatnonzero(in_cohort)
    _check_size(cohort, tables, fam, min_people, report)
    log.info("cohort: %d people kept, %d dropped", len(cohort), len(report))
    return cohort, report


class TooFewPeople(InputError):
    """Too few people left after the join; ``report`` says who left and why."""

    def __init__(self, reason: str, fix: str, report: pd.DataFrame) -> None:
        super().__init__(None, reason, fix)
        self.report = report


def _check_size(
    cohort: pd.DataFrame,
    tables: dict[str, pd.DataFrame],
    fam: pd.DataFrame,
    min_people: int,
    report: pd.DataFrame,
) -> None:
    if len(cohort) >= min_people:
        return
    counts = ", ".join(
        [f".fam: {len(fam)}"]
        + [f"{name}: {table['IID'].nunique()}" for name, table in tables.items()]
    )
    summary = join_summary(report, len(cohort))
    dropped = "; ".join(
        f"{row.step}: {row.dropped} {row.reason}" for row in summary.itertuples() if row.dropped
    )
    raise TooFewPeople(
        f"only {len(cohort)} people are in the genotypes and every table "
        f"(min_people = {min_people}; people per table: {counts}; dropped: {dropped or 'none'})",
        "check that FID/IID match across the .fam and the tables (see the drop report), "
        "fill missing values, or lower min_people",
        report,
    )


def join_summary(report: pd.DataFrame, n_kept: int) -> pd.DataFrame:
    """Per step and reason: people kept after the step and people dropped at it."""
    steps = (
        list(report["step"].cat.categories)
        if isinstance(report["step"].dtype, pd.CategoricalDtype)
        else list(dict.fromkeys(report["step"]))
    )
    per_step = (
        report.groupby("step", observed=False, sort=False).size().reindex(steps, fill_value=0)
    )
    kept_after = n_kept + per_step[::-1].cumsum()[::-1].shift(-1, fill_value=0)
    rows = []
    for step in steps:
        reasons = report.loc[report["step"] == step, "reason"].value_counts(sort=False)
        if reasons.empty:
            rows.append((step, int(kept_after[step]), 0, ""))
        for reason, count in reasons.items():
            rows.append((step, int(kept_after[step]), int(count), reason))
    return pd.DataFrame(rows, columns=["step", "kept", "dropped", "reason"])


def align_rows(table: pd.DataFrame, ids: pd.DataFrame, columns: list[str], name: str) -> np.ndarray:
    """``table[columns]`` as float64 rows in the order of ``ids`` (FID, IID); all must exist."""
    indexed = table.set_index(KEY)
    wanted = person_keys(ids)
    absent = ~wanted.isin(indexed.index)
    if absent.any():
        raise InputError(
            None,
            f"{name} lacks {absent.sum()} people of the cohort "
            f"(IIDs {_first(list(wanted[absent].get_level_values('IID')))})",
            f"regenerate {name} for the same .fam, or join it into the cohort",
        )
    return indexed.loc[wanted, columns].to_numpy(dtype=np.float64)
