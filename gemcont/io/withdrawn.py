"""Participants who withdrew consent: never analysed, and counted in the drop report.

UK Biobank marks them in the .fam/.sample by a negative IID (-1, -2, ...); the optional
withdrawal list (config ``data.exclude``: one IID, or FID IID, per line; blank lines and
``#`` comments ignored) names more. Every stage that uses people of the .fam asks
:func:`withdrawn` once (the withdrawal list is read once per job): the PCs and the
features keep its :func:`consenting_rows`, the splits (whence training, embeddings and
the GWAS) report it as drops; the phenotype store asks
:func:`store_reasons` of the people of its raw file, so that no photo or blow of theirs
is read, and lists them in its exclusions.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from gemcont.errors import InputError
from gemcont.io.ids import KEY, REPORT_COLUMNS

log = logging.getLogger(__name__)

STEP = "withdrawn"
NEGATIVE_IID = "negative IID (withdrawn from UK Biobank)"
NEGATIVE = r"-\d+"
STORE_NEGATIVE = "withdrawn (negative IID)"
STORE_LISTED = "withdrawn (listed in data.exclude)"
"""Reasons of the phenotype store's exclusions.tsv (one kind, "withdrawn")."""


def read_exclude(path: str | Path) -> pd.DataFrame:
    """The withdrawal list: FID (None when the file gives only IIDs) and IID, as text."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError as err:
        raise InputError(path, "file not found", "check data.exclude in the config") from err
    rows, width = [], None
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split("#", 1)[0].split()
        if not fields or (number == 1 and fields in (["FID", "IID"], ["IID"], ["eid"])):
            continue
        if len(fields) not in (1, 2) or (width is not None and len(fields) != width):
            raise InputError(
                path,
                f"{len(fields)} fields; a withdrawal list has one IID, or FID IID, per line",
                "write one IID (or FID and IID) per line",
                f"line {number}",
            )
        width = len(fields)
        rows.append(fields if width == 2 else [None, fields[0]])
    return pd.DataFrame(rows, columns=KEY, dtype=object)


def _withdrawal(
    people: pd.DataFrame, exclude: str | Path | None, where: str
) -> tuple[pd.Series, pd.Series]:
    """Per row of ``people`` (FID IID): withdrawn by a negative IID, and (not negative)
    listed in the withdrawal list ``exclude``; ``where`` names ``people`` in the log."""
    iid = people["IID"].astype(str)
    negative = iid.str.fullmatch(NEGATIVE)
    on_list = pd.Series(False, index=people.index)
    if exclude is not None:
        listed = read_exclude(exclude)
        by_iid = listed["FID"].isna()
        on_list = iid.isin(listed.loc[by_iid, "IID"])
        pairs = pd.MultiIndex.from_frame(listed.loc[~by_iid, KEY].astype(str))
        on_list |= pd.MultiIndex.from_frame(people[KEY].astype(str)).isin(pairs)
        log.info("%s: %d of %d listed people are in %s", exclude, on_list.sum(), len(listed), where)
    return negative, on_list & ~negative


def withdrawn(fam: pd.DataFrame, exclude: str | Path | None = None) -> pd.DataFrame:
    """People of ``fam`` who withdrew: FID IID step reason (drop-report rows)."""
    negative, listed = _withdrawal(fam, exclude, "the .fam")
    reason = pd.Series("", index=fam.index).mask(negative, NEGATIVE_IID)
    reason = reason.mask(listed, f"listed in data.exclude ({exclude})")
    out = fam.loc[reason != "", KEY].astype(str).assign(step=STEP, reason=reason[reason != ""])
    if len(out):
        log.warning(
            "%d withdrawn participants left out (%s)", len(out), dict(out.reason.value_counts())
        )
    return out[REPORT_COLUMNS].reset_index(drop=True)


def store_reasons(
    people: pd.DataFrame, exclude: str | Path | None = None, where: str = "the .fam"
) -> pd.Series:
    """The phenotype store's exclusion reason per row of ``people`` (FID IID; the FID
    may be empty for an IID absent from the .fam): :data:`STORE_NEGATIVE`,
    :data:`STORE_LISTED`, or "" for a person who did not withdraw."""
    negative, listed = _withdrawal(people, exclude, where)
    reason = pd.Series("", index=people.index, dtype=object)
    return reason.mask(negative, STORE_NEGATIVE).mask(listed, STORE_LISTED)


def consenting_rows(fam: pd.DataFrame, gone: pd.DataFrame) -> np.ndarray | None:
    """.fam rows of the people who did not withdraw (``gone``: :func:`withdrawn` of
    ``fam``); None when nobody withdrew (everyone)."""
    if not len(gone):
        return None
    keys = pd.MultiIndex.from_frame(fam[KEY].astype(str))
    return np.flatnonzero(~keys.isin(pd.MultiIndex.from_frame(gone[KEY])))
