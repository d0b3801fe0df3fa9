"""The per-row harmonise report: its statuses and columns, the rows the reader dropped
appended to it, and the summaries made from it (coverage per status, dropped hits).

Every input row of a study has one report row: kept (:data:`KEPT`) or dropped
(:data:`DROPPED`), each dropped row with its ``REASON``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gemcont.io.sumstats import DROP_COLUMNS, DROPPED_AT_READ, NOT_A_VARIANT

KEPT = ["matched", "flipped", "strand_flipped", "resolved_ambiguous"]
DROPPED = [
    NOT_A_VARIANT,
    DROPPED_AT_READ,
    "dropped_identical_copy",
    "dropped_ambiguous",
    "dropped_allele_mismatch",
    "dropped_absent",
    "dropped_duplicate",
    "dropped_multiallelic",
]
STATUSES = KEPT + DROPPED
REPORT_COLUMNS = [*DROP_COLUMNS, "BIM_INDEX", "BIM_ID", "FLIPPED"]


def with_read_drops(report: pd.DataFrame, read_drops: pd.DataFrame) -> pd.DataFrame:
    """``report`` with the rows the reader dropped (``LoadedSumstats.dropped``) after it."""
    missing = [c for c in DROP_COLUMNS if c not in read_drops.columns]
    if missing:
        raise ValueError(f"read_drops lacks columns {missing}")
    unknown = set(read_drops["STATUS"]) - set(STATUSES)
    if unknown:
        raise ValueError(f"read_drops has unknown statuses {sorted(unknown)}")
    drops = read_drops[DROP_COLUMNS].reset_index(drop=True)
    drops = drops.assign(
        STATUS=pd.Categorical(drops["STATUS"], categories=STATUSES),
        BIM_INDEX=pd.array([pd.NA] * len(drops), dtype="Int64"),
        BIM_ID=None,
        FLIPPED=False,
    )
    if drops.empty:  # the concatenation's dtypes, without a copy of every column
        dtypes = pd.concat([report.iloc[:0], drops], ignore_index=True).dtypes
        return report.astype(dtypes.to_dict()).reset_index(drop=True)
    return pd.concat([report, drops], ignore_index=True)


def coverage_table(report: pd.DataFrame) -> pd.DataFrame:
    """Count and fraction of input variants per status (every status listed)."""
    counts = report["STATUS"].value_counts().reindex(STATUSES, fill_value=0)
    total = max(len(report), 1)
    return pd.DataFrame(
        {"status": STATUSES, "count": counts.to_numpy(), "fraction": counts.to_numpy() / total}
    )


def dropped_hits(report: pd.DataFrame, p_threshold: float) -> pd.DataFrame:
    """Dropped report rows with P at or below ``p_threshold``, strongest first, for the
    log. Identical copies are left out (the row they copy was used in their place), and
    so are rows that are no variant effect (covariate TEST rows: their P is no hit)."""
    status = report["STATUS"].astype(object)
    dropped = ~status.isin([*KEPT, "dropped_identical_copy", NOT_A_VARIANT]).to_numpy()
    hit = (report["LOG10P"] >= -np.log10(p_threshold)).to_numpy()
    hits = report[dropped & hit]
    return hits.sort_values("LOG10P", ascending=False, kind="stable")
