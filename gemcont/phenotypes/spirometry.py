"""Spirometry blows (UK Biobank field 3066) -> the phenotype store, one row per person.

For each person the best blow (largest FEV1 + FVC, :func:`gemcont.io.spirometry.best_blow`)
gives the flow-volume curve (:func:`gemcont.io.spirometry.flow_volume`), stored twice:

* ``images.npy`` (n, 1, R, R) uint8: the curve rasterised on FIXED axes -- volume
  0..``volume_max_l`` left to right, flow 0..``flow_max_l_s`` bottom to top -- so a
  larger FVC reaches further right and a larger PEF higher up. The area under the curve
  is filled (255 inside, 0 outside), drawn at 4x resolution and box-downsampled, so its
  upper edge (the curve) is anti-aliased. A filled area survives the random resized
  crop and Gaussian blur of training better than a thin line. Curves beyond the axes
  are clipped to the frame (and counted in the log).
* ``curves.npy`` (n, 2, P) float32: channel 0 the flow (L/s) at P volumes evenly spaced
  from 0 to FVC, channel 1 those volumes (L) -- the shape at full resolution plus the
  size (FVC = channel 1's last value), for a 1-D CNN encoder.

Each blow is checked against the ATS/ERS start- and end-of-test criteria
(:func:`gemcont.io.spirometry.blow_problems`, thresholds ``phenotypes.spirometry_qc``); a
blow that fails, or cannot be measured, is listed in ``exclusions.tsv`` (its column and
the reason) and the best blow is chosen among the acceptable ones. A person is excluded
when none of their blows is acceptable, or when any of their blows is malformed -- the
best blow of a partly unreadable record is unknown. People whose cells are all empty are
listed as "no blow recorded" but do not count towards ``min_kept_fraction`` (an export
may list every participant); so are withdrawn participants (a negative IID, or listed
in ``data.exclude``: :func:`gemcont.io.withdrawn.store_reasons`), whose blows are never
read.
The FID is the .fam's (by IID) when ``fam`` is given, else FID = IID (UK Biobank).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from gemcont.config import with_defaults
from gemcont.errors import InputError
from gemcont.io.ids import KEY, fill_fid
from gemcont.io.spirometry import (
    BlowCriteria,
    best_blow,
    blow_columns,
    blow_problems,
    flow_volume,
    parse_blow,
)
from gemcont.io.withdrawn import store_reasons
from gemcont.phenotypes.store import EXCLUSIONS, StoreWriter, check_kept, save_npy

log = logging.getLogger(__name__)

CURVES = "curves.npy"
SUPERSAMPLE = 4
MISSING = frozenset({"", "NA", "NAN"})
NO_BLOW = "no blow recorded"

Blows = list[tuple[str, np.ndarray]]
"""One person's blows: (column, volumes in mL) in column order."""


def read_blow_table(path: str | Path, instance: int = 0) -> tuple[pd.DataFrame, list[str]]:
    """The field-3066 table as text and its blow columns of ``instance``. Structural
    problems (no eid column, no 3066 column, a repeated or empty eid) raise
    :class:`gemcont.errors.InputError` as :func:`gemcont.io.spirometry.read_3066_table`."""
    path = Path(path)
    table = _read_table(path)
    return table, blow_columns([str(c) for c in table.columns], path, instance)


def parse_blows(
    table: pd.DataFrame, columns: list[str], skip: frozenset[str] = frozenset()
) -> tuple[dict[str, Blows], pd.DataFrame]:
    """The blows of a table read by :func:`read_blow_table`, person by person,
    tolerating malformed cells.

    Returns ``({IID: [(column, blow volumes in mL)]}, bad)`` where ``bad`` (IID, item,
    reason) lists people with a malformed blow or with no blow at all (reason
    :data:`NO_BLOW`); they are not in the dict. People whose eid is in ``skip`` (the
    withdrawn) are in neither result: their cells are not parsed."""
    blows: dict[str, Blows] = {}
    bad = []
    for eid, cells in zip(table["eid"], table[columns].to_numpy(), strict=True):
        if eid in skip:
            continue
        person, problem = _parse_row(cells, columns)
        if problem is not None:
            bad.append((eid, *problem))
        elif not person:
            bad.append((eid, ", ".join(columns), NO_BLOW))
        else:
            blows[eid] = person
    return blows, pd.DataFrame(bad, columns=["IID", "item", "reason"])


def _parse_row(cells: np.ndarray, columns: list[str]) -> tuple[Blows, tuple[str, str] | None]:
    """One person's blows, or the first malformed cell's (column, reason)."""
    person = []
    for col, cell in zip(columns, cells, strict=True):
        if cell.strip().upper() in MISSING:
            continue
        try:
            person.append((col, parse_blow(cell)))
        except ValueError as err:
            return [], (col, f"malformed blow: {err}")
    return person, None


def _read_table(path: Path) -> pd.DataFrame:
    """The table as stripped text; checks the eid column (present, filled, unique)."""
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise InputError(path, "file not found", "check the spirometry table path") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise InputError(path, f"not a readable TSV ({err})", "write it as a TSV") from None
    if "eid" not in table.columns:
        raise InputError(path, "no 'eid' column", "name the participant-ID column 'eid'")
    table["eid"] = table["eid"].str.strip()
    empty = np.flatnonzero(table["eid"] == "")
    if len(empty):
        raise InputError(path, f"empty eid on data line {empty[0] + 1}", "fill in the eid")
    dup = table["eid"][table["eid"].duplicated()]
    if len(dup):
        raise InputError(
            path, "eid appears more than once", "keep one row per participant", f"eid {dup.iloc[0]}"
        )
    return table


def rasterise(
    volume_l: np.ndarray,
    flow_l_s: np.ndarray,
    size: int = 256,
    volume_max_l: float = 8.0,
    flow_max_l_s: float = 16.0,
) -> np.ndarray:
    """The area under a flow-volume curve on fixed axes: (size, size) uint8, flow upwards."""
    big = size * SUPERSAMPLE
    x = np.clip(volume_l / volume_max_l, 0.0, 1.0) * big
    y = (1.0 - np.clip(flow_l_s / flow_max_l_s, 0.0, 1.0)) * big
    outline = np.column_stack([np.r_[x[0], x, x[-1]], np.r_[big, y, big]])
    canvas = Image.new("L", (big, big), 0)
    ImageDraw.Draw(canvas).polygon(outline.ravel().tolist(), fill=255)
    return np.asarray(canvas.reduce(SUPERSAMPLE))


def curve_1d(volume_ml: np.ndarray, n_points: int) -> np.ndarray:
    """Flow (L/s) and volume (L) at ``n_points`` volumes from 0 to FVC: (2, P) float32."""
    volume_l, flow = flow_volume(volume_ml, n_points)
    return np.stack([flow, volume_l]).astype(np.float32)


def _fids(
    iids: list[str], fam: pd.DataFrame | None, path: Path
) -> tuple[dict[str, str], pd.DataFrame]:
    """FID per IID (from ``fam``, or FID = IID), and the IIDs absent from ``fam``."""
    if fam is None:
        return dict(zip(iids, iids, strict=True)), pd.DataFrame(columns=[*KEY, "reason"])
    known, dropped = fill_fid(pd.DataFrame({"IID": iids}), fam, path, "spirometry")
    return dict(zip(known["IID"], known["FID"], strict=True)), dropped


def _withdrawn(
    eids: pd.Series, fam: pd.DataFrame | None, exclude: str | Path | None, path: Path
) -> pd.DataFrame:
    """The table's withdrawn participants: FID IID reason (FID from ``fam`` by IID, ""
    for an IID absent from it; FID = IID without ``fam``)."""
    people = pd.DataFrame({"FID": eids.to_numpy(), "IID": eids.to_numpy()})
    if fam is not None:
        fids = fam.drop_duplicates("IID").set_index("IID")["FID"]
        people["FID"] = people["IID"].map(fids).fillna("")
    reason = store_reasons(people, exclude, f"the spirometry table {path}")
    return people.assign(reason=reason)[reason != ""].reset_index(drop=True)


def default_criteria() -> BlowCriteria:
    """The schema's default ``phenotypes.spirometry_qc`` thresholds."""
    return BlowCriteria(**with_defaults("phenotypes")["spirometry_qc"])


def acceptable_blows(person: Blows, criteria: BlowCriteria) -> tuple[list[np.ndarray], Blows]:
    """The blows that meet ``criteria``, and (column, reason) of those that do not."""
    kept, failed = [], []
    for col, blow in person:
        try:
            problems = blow_problems(blow, criteria)
        except ValueError as err:
            problems = [f"unmeasurable blow: {err}"]
        if problems:
            failed.append((col, "; ".join(problems)))
        else:
            kept.append(blow)
    return kept, failed


def build_spirometry_store(
    table_path: str | Path,
    out_dir: str | Path,
    raster_size: int = 256,
    curve_points: int = 256,
    volume_max_l: float = 8.0,
    flow_max_l_s: float = 16.0,
    min_kept_fraction: float = 0.5,
    instance: int = 0,
    fam: pd.DataFrame | None = None,
    criteria: BlowCriteria | None = None,
    exclude: str | Path | None = None,
) -> pd.DataFrame:
    """Preprocess every person of a field-3066 table into the store at ``out_dir``, but
    the withdrawn (a negative IID, or listed in ``exclude``, data.exclude): their blows
    are not read, they are listed in the exclusions (item "eid") and do not count
    towards ``min_kept_fraction``.

    ``criteria`` are the blow acceptability thresholds (the schema's defaults when None).
    Writes ``images.npy`` (n, 1, R, R), ``curves.npy`` (n, 2, P), ``index.tsv`` (eye "")
    and ``exclusions.tsv``; rows follow the table's order. Returns the store index.
    """
    table_path, out_dir = Path(table_path), Path(out_dir)
    criteria = criteria or default_criteria()
    table, columns = read_blow_table(table_path, instance)
    gone = _withdrawn(table["eid"], fam, exclude, table_path)
    if len(gone):
        log.warning("%s: %d withdrawn participants left out unread", table_path, len(gone))
    blows, bad = parse_blows(table, columns, frozenset(gone["IID"]))
    del table
    fids, unknown = _fids([*blows, *bad["IID"]], fam, table_path)
    curves = np.zeros((len(blows), 2, curve_points), np.float32)
    clipped = 0
    with StoreWriter(out_dir, len(blows), (1, raster_size, raster_size)) as writer:
        for fid, iid, reason in unknown[[*KEY, "reason"]].itertuples(index=False):
            writer.exclude(fid, iid, "eid", reason)
        for iid, item, reason in bad.itertuples(index=False):
            if iid in fids:
                writer.exclude(fids[iid], iid, item, reason)
        for fid, iid, reason in gone.itertuples(index=False):
            writer.exclude(fid, iid, "eid", reason)
        for iid, person in blows.items():
            if iid not in fids:
                continue
            usable, failed = acceptable_blows(person, criteria)
            for col, reason in failed:
                writer.exclude(fids[iid], iid, col, reason)
            if not usable:
                continue
            blow = usable[best_blow(usable)]
            volume_l, flow = flow_volume(blow, 2 * raster_size)
            curves[len(writer.keys)] = curve_1d(blow, curve_points)
            clipped += volume_l[-1] > volume_max_l or flow.max() > flow_max_l_s
            image = rasterise(volume_l, flow, raster_size, volume_max_l, flow_max_l_s)
            writer.add(fids[iid], iid, "", image[None])
        index, exclusions = writer.finish()
    save_npy(curves[: len(index)], out_dir / CURVES)
    if clipped:
        log.warning("%d curves exceed the raster axes and were clipped", clipped)
    n_failed = exclusions["reason"].str.contains("hesitant start|no end of forced").sum()
    if n_failed:
        log.warning("%d blows fail the ATS/ERS criteria (see %s)", n_failed, out_dir / EXCLUSIONS)
    n_total = len(blows) + int((bad["reason"] != NO_BLOW).sum())
    check_kept(len(index), n_total, min_kept_fraction, exclusions, table_path)
    return index
