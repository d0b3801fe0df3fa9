"""UK Biobank field 3066 spirometry blows: reading, writing and measuring them.

Field 3066 ("Blow curve time series") stores each blow as the cumulative exhaled
volume in mL, sampled every 10 ms, as one comma-separated string of integers.
Up to three blows per person are stored as array indices 0, 1, 2 of one instance.

The table layout used here (TSV, optionally gzipped) has one row per person::

    eid  3066-0.0  3066-0.1  3066-0.2

with an empty cell where a blow is absent. ``eid`` is the person's IID. The
UKB-RAP column spelling ``p3066_i0_a0`` is accepted as well.

Measurements follow the ATS/ERS conventions: FEV1 is read 1 s after the
back-extrapolated time zero (the time at which the tangent to the volume-time
curve at the point of peak flow crosses zero volume), FVC is the largest volume
exhaled, and the best blow is the one with the largest FEV1 + FVC.

A blow is acceptable (:func:`blow_problems`) when it meets the ATS/ERS start- and
end-of-test criteria (Graham et al. 2019, Am J Respir Crit Care Med 200:e70; Miller et
al. 2005, Eur Respir J 26:319), with the thresholds of :class:`BlowCriteria`:

* end of forced expiration: a plateau (less than ``plateau_ml`` volume change over the
  last ``plateau_s`` of the recording) or an exhalation of at least ``exhalation_s``
  from the back-extrapolated time zero (2019: 15 s; the 2005 edition's rule: 6 s);
* start of test: the back-extrapolated volume is at most ``max_bev_fraction`` of FVC or
  ``max_bev_ml``, whichever is greater (2019: 5 % or 100 mL; 2005: 5 % or 150 mL).

A blow cut short (the recording stops while the person is still exhaling) fails the
first: its FVC and FEV1/FVC would be silently wrong. A hesitant start fails the second:
time zero, and with it FEV1, is uncertain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gemcont.errors import InputError

SAMPLE_INTERVAL_S = 0.01
"""Time between two samples of a field-3066 blow, in seconds."""

MAX_DROP_ML = 50.0
"""Largest sample-to-sample volume decrease (mL) tolerated in a blow."""

SMOOTH_SAMPLES = 5
"""Width (samples) of the centred moving average applied to volume before differentiating."""

_COLUMN_RE = re.compile(r"^(?:3066-(\d+)\.(\d+)|p3066_i(\d+)_a(\d+))$")


def format_blow(volume_ml: np.ndarray) -> str:
    """Format a blow as field-3066 text: volumes rounded to integer mL, joined by ','."""
    values = np.rint(np.asarray(volume_ml, dtype=np.float64))
    if values.size == 0:
        raise ValueError("cannot format an empty blow")
    if not np.all(np.isfinite(values)):
        raise ValueError("blow contains non-finite volumes")
    return ",".join(map(str, values.astype(np.int64).tolist()))


def parse_blow(text: str) -> np.ndarray:
    """Parse field-3066 text into volumes in mL (float64).

    Raises ``ValueError`` saying why when the text is empty, holds a non-numeric or
    non-finite value, has fewer than two samples, or the volume drops by more than
    ``MAX_DROP_ML`` mL between two consecutive samples.
    """
    if not isinstance(text, str):
        raise ValueError(f"blow is not text (got {type(text).__name__})")
    text = text.strip()
    if not text:
        raise ValueError("blow is empty")
    parts = text.split(",")
    try:
        values = np.array(parts, dtype=np.float64)
    except ValueError:
        bad = next(i for i, p in enumerate(parts) if not _is_number(p))
        raise ValueError(
            f"sample {bad} is not a number: {parts[bad].strip()!r} "
            "(expected comma-separated integers in mL)"
        ) from None
    if not np.all(np.isfinite(values)):
        bad = int(np.flatnonzero(~np.isfinite(values))[0])
        raise ValueError(f"sample {bad} is not finite: {parts[bad].strip()!r}")
    if values.size < 2:
        raise ValueError(f"blow has {values.size} sample; at least 2 are needed")
    drops = np.diff(values)
    if drops.size and drops.min() < -MAX_DROP_ML:
        i = int(np.argmin(drops))
        raise ValueError(
            f"volume decreases by {-drops[i]:g} mL between samples {i} and {i + 1} "
            f"(more than {MAX_DROP_ML:g} mL): field 3066 holds cumulative exhaled volume"
        )
    return values


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def blow_columns(columns: list[str], path: Path, instance: int) -> list[str]:
    found = []
    for col in columns:
        m = _COLUMN_RE.match(col)
        if not m:
            continue
        inst, arr = (m.group(1), m.group(2)) if m.group(1) is not None else m.group(3, 4)
        if int(inst) == instance:
            found.append((int(arr), col))
    if not found:
        raise InputError(
            path,
            f"no field-3066 column for instance {instance} "
            f"(columns are {', '.join(columns[:8])}{', ...' if len(columns) > 8 else ''})",
            f"provide columns named 3066-{instance}.0, 3066-{instance}.1, ... "
            "holding comma-separated volumes in mL",
        )
    return [col for _, col in sorted(found)]


def read_3066_table(path: Path, *, instance: int = 0) -> dict[str, list[np.ndarray]]:
    """Read a field-3066 table into ``{IID: [blow volumes in mL, ...]}``.

    Blows are listed in array order; empty cells (and ``NA``) are skipped and people
    without any blow are left out. Raises :class:`gemcont.errors.InputError` naming
    the eid and column when a cell is malformed, and for a missing ``eid`` column,
    missing 3066 columns or a repeated eid.
    """
    path = Path(path)
    try:
        df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise InputError(path, "file not found", "check the spirometry table path") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise InputError(
            path, f"not a readable tab-separated table ({err})", "write it as a TSV"
        ) from None
    if "eid" not in df.columns:
        raise InputError(
            path,
            "no 'eid' column",
            "name the participant-ID column 'eid' (values are the IIDs of the genotype data)",
        )
    columns = blow_columns([str(c) for c in df.columns], path, instance)
    eids = df["eid"].str.strip()
    dup = eids[eids.duplicated()]
    if len(dup):
        raise InputError(
            path,
            f"eid {dup.iloc[0]!r} appears more than once",
            "keep one row per participant",
            record=f"eid {dup.iloc[0]}",
        )
    out: dict[str, list[np.ndarray]] = {}
    cells = df[columns].to_numpy()
    for row, eid in enumerate(eids.tolist()):
        if not eid:
            raise InputError(
                path, f"empty eid on data line {row + 1}", "fill in the eid", record=None
            )
        blows = []
        for j, col in enumerate(columns):
            text = cells[row, j].strip()
            if not text or text.upper() in {"NA", "NAN"}:
                continue
            try:
                blows.append(parse_blow(text))
            except ValueError as err:
                raise InputError(
                    path,
                    f"malformed blow: {err}",
                    "leave the cell empty to drop this blow, or repair the volume series",
                    record=f"eid {eid}, column {col}",
                ) from None
        if blows:
            out[eid] = blows
    return out


def _smoothed(volume_ml: np.ndarray, window: int = SMOOTH_SAMPLES) -> np.ndarray:
    """Centred moving average of the volume (edges padded with the end values)."""
    v = np.asarray(volume_ml, dtype=np.float64)
    if window <= 1 or v.size < window:
        return v.copy()
    half = window // 2
    padded = np.concatenate([np.full(half, v[0]), v, np.full(window - 1 - half, v[-1])])
    csum = np.cumsum(np.concatenate([[0.0], padded]))
    return (csum[window:] - csum[:-window]) / window


def _flow_l_s(volume_ml: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Smoothed volume (mL) and its time derivative, the flow (L/s)."""
    vs = _smoothed(volume_ml)
    flow = np.gradient(vs, SAMPLE_INTERVAL_S) / 1000.0
    return vs, flow


def _checked(volume_ml: np.ndarray) -> np.ndarray:
    v = np.asarray(volume_ml, dtype=np.float64)
    if v.ndim != 1 or v.size < 3:
        raise ValueError("a blow needs at least 3 volume samples")
    if not np.all(np.isfinite(v)):
        raise ValueError("blow contains non-finite volumes")
    v = v - v[0]
    if v.max() <= 0:
        raise ValueError("blow never exhales any volume")
    return v


def blow_metrics(volume_ml: np.ndarray) -> dict[str, float]:
    """Spirometry measures of one blow (volumes relative to the first sample).

    Returns ``fev1`` (L, volume 1 s after the back-extrapolated time zero),
    ``fvc`` (L, largest volume), ``fev1_fvc``, ``pef`` (L/s, peak of the smoothed
    flow), ``t0`` (s, back-extrapolated time zero from the first sample) and
    ``bev`` (L, back-extrapolated volume: the volume already exhaled at ``t0``).
    Time zero is where the tangent to the volume-time curve at the point of peak
    flow crosses zero volume (ATS/ERS back-extrapolation).
    """
    v = _checked(volume_ml)
    vs, flow = _flow_l_s(v)
    ip = int(np.argmax(flow))
    pef = float(flow[ip])
    if pef <= 0:
        raise ValueError("blow has no positive flow")
    t = np.arange(v.size) * SAMPLE_INTERVAL_S
    t0 = t[ip] - (vs[ip] / 1000.0) / pef
    fvc = float(v.max()) / 1000.0
    fev1 = min(float(np.interp(t0 + 1.0, t, v)) / 1000.0, fvc)
    bev = float(np.interp(t0, t, v)) / 1000.0
    return {
        "fev1": fev1,
        "fvc": fvc,
        "fev1_fvc": fev1 / fvc,
        "pef": pef,
        "t0": float(t0),
        "bev": bev,
    }


@dataclass(frozen=True)
class BlowCriteria:
    """ATS/ERS acceptability thresholds of a blow (config ``phenotypes.spirometry_qc``;
    meanings and defaults in the schema)."""

    plateau_ml: float
    plateau_s: float
    exhalation_s: float
    max_bev_fraction: float
    max_bev_ml: float


def blow_problems(volume_ml: np.ndarray, criteria: BlowCriteria) -> list[str]:
    """Why a blow fails the ATS/ERS start- and end-of-test criteria (empty when it passes).

    Raises ``ValueError`` (as :func:`blow_metrics`) when the blow cannot be measured.
    """
    m = blow_metrics(volume_ml)
    v = _checked(volume_ml)
    window = int(round(criteria.plateau_s / SAMPLE_INTERVAL_S))
    exhalation_s = (v.size - 1) * SAMPLE_INTERVAL_S - m["t0"]
    problems = []
    bev_ml, fvc_ml = 1000.0 * m["bev"], 1000.0 * m["fvc"]
    limit_ml = max(criteria.max_bev_fraction * fvc_ml, criteria.max_bev_ml)
    if bev_ml > limit_ml:
        problems.append(
            f"hesitant start: back-extrapolated volume {bev_ml:.0f} mL exceeds {limit_ml:.0f} mL "
            f"(the greater of {criteria.max_bev_fraction:.0%} of FVC {m['fvc']:.2f} L "
            f"and {criteria.max_bev_ml:g} mL)"
        )
    if v.size > window:
        rise_ml = float(v[-1] - v[-1 - window])
        plateau = rise_ml < criteria.plateau_ml
        end = (
            f"volume still rose {rise_ml:.0f} mL in the last {criteria.plateau_s:g} s "
            f"(a plateau is < {criteria.plateau_ml:g} mL)"
        )
    else:
        plateau = False
        end = f"the recording is shorter than the {criteria.plateau_s:g} s plateau window"
    if not plateau and exhalation_s < criteria.exhalation_s:
        problems.append(
            f"no end of forced expiration: {end} and exhalation lasted {exhalation_s:.1f} s "
            f"(< {criteria.exhalation_s:g} s); a blow cut short gives a wrong FVC "
            f"({m['fvc']:.2f} L) and FEV1/FVC ({m['fev1_fvc']:.2f})"
        )
    return problems


def best_blow(blows: list[np.ndarray]) -> int:
    """Index of the blow with the largest FEV1 + FVC (ATS convention); first on ties."""
    if not blows:
        raise ValueError("no blows to choose from")
    scores = []
    for blow in blows:
        m = blow_metrics(blow)
        scores.append(m["fev1"] + m["fvc"])
    return int(np.argmax(scores))


def flow_volume(volume_ml: np.ndarray, n_points: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Flow-volume curve of a blow on an even volume grid.

    Returns ``(volume_L, flow_L_per_s)``: ``n_points`` volumes from 0 to FVC and the
    flow (derivative of the lightly smoothed volume, clipped at 0) at the moment each
    volume was first reached.
    """
    if n_points < 2:
        raise ValueError("n_points must be at least 2")
    v = _checked(volume_ml)
    _, flow = _flow_l_s(v)
    reached = np.maximum.accumulate(v)
    first = np.concatenate([[True], np.diff(reached) > 0])
    grid_ml = np.linspace(0.0, reached[-1], n_points)
    when = np.interp(grid_ml, reached[first], np.flatnonzero(first).astype(np.float64))
    f = np.interp(when, np.arange(v.size, dtype=np.float64), flow)
    return grid_ml / 1000.0, np.clip(f, 0.0, None)
