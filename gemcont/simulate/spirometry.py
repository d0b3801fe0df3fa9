"""Simulated spirometry: physiological volume-time blows in the UK Biobank field-3066 layout.

Each person's standardised latent traits set the shape of their flow-volume curve
(see :func:`latent_to_shape`); every blow then adds blow-to-blow variability, a
hesitant start, effort and measurement noise (:func:`simulate_blow`). The clinical
markers (FEV1, FVC, FEV1/FVC, PEF) are *measured* from the simulated curves with
:mod:`gemcont.io.spirometry`, exactly as they would be on real data.

The flow model: after a short hesitation the flow rises within ~0.1 s to the peak
expiratory flow PEF, reached once a fraction ``v_peak_frac`` of FVC is exhaled, then
follows the descending limb ``F(v) = PEF * ((FVC - v) / (FVC - v_peak)) ** k``.
``dV/dt = F(V)`` is integrated on the 10 ms sampling grid (closed-form solution of
the ODE, perturbed by slow flow fluctuations and integrated with the trapezoid rule).
``k > 1`` gives a scooped (obstructive) limb, ``k ~ 1`` a straight one, ``k < 1`` a
convex one. As on a spirometer whose operator coaches the subject to the end of the
test, the recording goes on for 1 s after the flow falls below 20 mL/s -- the volume
plateau of the ATS/ERS end-of-test criterion -- or stops at 15 s.

Besides the latent traits, every person has a non-genetic, habitual curve shape
(:class:`ShapeNuisance`): where on the volume axis the peak falls, and a "knee" below
which the descending limb changes concavity (``k`` times a person-level factor), as
seen in real flow-volume loops. It is independent of the latent traits and of
genetics, so it is structure that a phenotype-only model may learn but that genetics
cannot explain.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from gemcont.errors import InputError
from gemcont.io.atomic import atomic_open, atomic_path
from gemcont.io.spirometry import (
    SAMPLE_INTERVAL_S,
    best_blow,
    blow_metrics,
    flow_volume,
    format_blow,
    read_3066_table,
)
from gemcont.simulate.people import require_columns

BLOW_COLUMNS = ["3066-0.0", "3066-0.1", "3066-0.2"]
PEOPLE_COLUMNS = ["FID", "IID", "age", "sex", "height", "latent_0", "latent_1", "latent_2"]
MARKER_COLUMNS = ["FID", "IID", "fev1", "fvc", "fev1_fvc", "pef"]

END_FLOW_L_S = 0.02
"""End of the descending limb: flow below this (L/s); the plateau follows."""
PLATEAU_S = 1.0
"""Recording after the end of the limb: the volume plateau that ends a test (ATS/ERS)."""
MAX_DURATION_S = 15.0
"""End of test: longest recording (s)."""


@dataclass(frozen=True)
class ShapeEffects:
    """Coefficients of the latent-to-shape mapping (see :func:`latent_to_shape`)."""

    log_k_intercept: float = 0.6
    log_k_per_latent0: float = 0.3
    log_k_per_year: float = 0.005
    log_pef_per_latent1: float = 0.08
    log_pef_per_latent0: float = -0.05
    log_fvc_per_latent2: float = 0.05
    v_peak_frac: float = 0.12


@dataclass(frozen=True)
class BlowNoise:
    """Blow-to-blow variability and measurement noise (see :func:`simulate_blow`)."""

    pef_cv: float = 0.04
    k_cv: float = 0.04
    fvc_cv: float = 0.02
    v_peak_cv: float = 0.15
    poor_effort_prob: float = 0.15
    flow_noise_sd: float = 0.012
    volume_noise_ml: float = 1.5


@dataclass(frozen=True)
class ShapeNuisance:
    """Person-level, non-genetic shape variation (see :func:`person_shape`)."""

    v_peak_log_sd: float = 0.3
    knee_log_sd: float = 0.4
    knee_min: float = 0.3
    knee_max: float = 0.7


DEFAULT_EFFECTS = ShapeEffects()
DEFAULT_NOISE = BlowNoise()
DEFAULT_NUISANCE = ShapeNuisance()


def latent_to_shape(
    latent: np.ndarray,
    age: float,
    sex: int,
    height_cm: float,
    effects: ShapeEffects = DEFAULT_EFFECTS,
) -> dict[str, float]:
    """Map a person's latent traits and covariates to their flow-volume shape.

    The single documented mapping (``z = latent``, standardised, ~N(0, 1)):

    - reference FVC (L, GLI-2012-like): males ``0.0576*h - 0.026*age - 4.34``,
      females ``0.0443*h - 0.026*age - 2.89``, clipped at >= 1.0 L;
    - reference PEF (L/s): males ``0.065*h - 0.030*age - 0.4``,
      females ``0.048*h - 0.025*age - 0.1``, clipped at >= 2.0 L/s;
    - ``z[0]`` -> concavity: ``k = exp(0.6 + 0.3*z0 + 0.005*(age - 55))``
      (higher ``z0`` -> more scooped, obstructive limb -> lower FEV1/FVC); also
      ``PEF *= exp(-0.05*z0)``;
    - ``z[1]`` -> peak flow: ``PEF *= exp(0.08*z1)``;
    - ``z[2]`` -> lung size: ``FVC *= exp(0.05*z2)``;
    - PEF is reached after ``v_peak_frac = 0.12`` of FVC.

    Returns ``fvc_l``, ``pef_l_s``, ``k`` and ``v_peak_frac`` (coefficients from
    ``effects``).
    """
    z = np.asarray(latent, dtype=np.float64).ravel()
    if z.size < 3:
        raise ValueError(f"need 3 latent traits, got {z.size}")
    if sex == 1:
        fvc_ref = 0.0576 * height_cm - 0.026 * age - 4.34
        pef_ref = 0.065 * height_cm - 0.030 * age - 0.4
    elif sex == 0:
        fvc_ref = 0.0443 * height_cm - 0.026 * age - 2.89
        pef_ref = 0.048 * height_cm - 0.025 * age - 0.1
    else:
        raise ValueError(f"sex must be 0 (female) or 1 (male), got {sex!r}")
    fvc = max(fvc_ref, 1.0) * np.exp(effects.log_fvc_per_latent2 * z[2])
    pef = (
        max(pef_ref, 2.0)
        * np.exp(effects.log_pef_per_latent1 * z[1])
        * np.exp(effects.log_pef_per_latent0 * z[0])
    )
    k = np.exp(
        effects.log_k_intercept
        + effects.log_k_per_latent0 * z[0]
        + effects.log_k_per_year * (age - 55.0)
    )
    return {
        "fvc_l": float(fvc),
        "pef_l_s": float(pef),
        "k": float(k),
        "v_peak_frac": float(effects.v_peak_frac),
    }


def person_shape(
    shape: dict[str, float], rng: np.random.Generator, nuisance: ShapeNuisance = DEFAULT_NUISANCE
) -> dict[str, float]:
    """Add a person's habitual, non-genetic shape to ``shape`` (from :func:`latent_to_shape`).

    ``v_peak_frac`` is scaled by ``exp(N(0, v_peak_log_sd))``; the knee sits at a
    fraction ``U(knee_min, knee_max)`` of the volume left after the peak
    (``knee_at``), below which the concavity is ``k * exp(N(0, knee_log_sd))``
    (``k_low``).
    """
    frac = shape["v_peak_frac"] * np.exp(rng.normal(0.0, nuisance.v_peak_log_sd))
    return {
        **shape,
        "v_peak_frac": float(min(frac, 0.3)),
        "knee_at": float(rng.uniform(nuisance.knee_min, nuisance.knee_max)),
        "k_low": float(shape["k"] * np.exp(rng.normal(0.0, nuisance.knee_log_sd))),
    }


def _descending_flow(tau: np.ndarray, pef: float, r0: float, k: float) -> np.ndarray:
    """Closed-form flow of dR/dt = -PEF * (R / R0) ** k, R(0) = R0, at times ``tau``."""
    a = pef / r0
    if abs(k - 1.0) < 1e-6:
        return pef * np.exp(-a * tau)
    base = np.maximum(1.0 + (k - 1.0) * a * tau, 0.0)
    return pef * base ** (-k / (k - 1.0))


def _time_to_fraction(pef: float, r0: float, k: float, fraction: float) -> float:
    """Time for dR/dt = -PEF * (R / R0) ** k to fall from R0 to ``fraction`` x R0."""
    a = pef / r0
    if abs(k - 1.0) < 1e-6:
        return -np.log(fraction) / a
    return (fraction ** (-(k - 1.0)) - 1.0) / ((k - 1.0) * a)


def _time_to_end(pef: float, r0: float, k: float) -> float:
    """Time after the peak at which the descending-limb flow falls to END_FLOW_L_S."""
    q = min(END_FLOW_L_S / pef, 1.0)
    return _time_to_fraction(pef, r0, k, q ** (1.0 / k))


_RISE_GRID = np.linspace(0.0, 1.0, 201)


def simulate_blow(
    shape: dict[str, float], rng: np.random.Generator, noise: BlowNoise = DEFAULT_NOISE
) -> np.ndarray:
    """Simulate one blow: cumulative exhaled volume in mL every 10 ms (float, unrounded).

    Per blow: PEF, ``k``, FVC and the volume at peak flow are perturbed log-normally;
    a minority of blows has submaximal effort (lower PEF, slightly lower FVC); the
    start has 2-14 samples of hesitation and a soft rise ``PEF*sin(pi/2*t/T)**p``
    (``1 <= p <= 2.5``); below the knee (``knee_at`` x the volume left after the
    peak, when ``shape`` has one, see :func:`person_shape`) the limb follows
    ``k_low``; flow carries slow multiplicative noise; volume gets white measurement
    noise and is kept non-decreasing.
    """
    dt = SAMPLE_INTERVAL_S
    if rng.random() < noise.poor_effort_prob:
        effort = rng.uniform(0.75, 0.95)
    else:
        effort = 1.0 - abs(rng.normal(0.0, 0.02))
    pef = shape["pef_l_s"] * np.exp(rng.normal(0.0, noise.pef_cv)) * effort
    k_jitter = np.exp(rng.normal(0.0, noise.k_cv))
    k = shape["k"] * k_jitter
    k_low = shape.get("k_low", shape["k"]) * k_jitter
    fvc = shape["fvc_l"] * np.exp(rng.normal(0.0, noise.fvc_cv)) * (1.0 - 0.3 * (1.0 - effort))
    frac = min(shape["v_peak_frac"] * np.exp(rng.normal(0.0, noise.v_peak_cv)), 0.3)
    v_peak = frac * fvc
    n_hesitate = int(rng.integers(2, 15))
    p = rng.uniform(1.0, 2.5)

    rise_shape = np.sin(0.5 * np.pi * _RISE_GRID) ** p
    mean_rise = float(rise_shape.mean())
    t_rise = v_peak / (pef * mean_rise)
    r0 = fvc - v_peak
    # descending limb: exponent k down to the knee, then k_low from the knee's flow
    knee_at = shape.get("knee_at", 0.0)
    f_knee = pef * knee_at**k
    if f_knee > END_FLOW_L_S:
        t_knee = t_rise + _time_to_fraction(pef, r0, k, knee_at)
        t_limb = t_knee + _time_to_end(f_knee, knee_at * r0, k_low)
    else:
        t_knee = np.inf
        t_limb = t_rise + _time_to_end(pef, r0, k)
    t_end = min(t_limb + PLATEAU_S, MAX_DURATION_S - n_hesitate * dt)
    n = int(np.ceil(t_end / dt)) + 1
    t = np.arange(n) * dt
    flow = np.empty(n)
    rising = t < t_rise
    lower = t >= t_knee
    upper = ~rising & ~lower
    flow[rising] = pef * np.sin(0.5 * np.pi * t[rising] / t_rise) ** p
    flow[upper] = _descending_flow(t[upper] - t_rise, pef, r0, k)
    if lower.any():  # no knee: knee_at * r0 is 0
        flow[lower] = _descending_flow(t[lower] - t_knee, f_knee, knee_at * r0, k_low)

    if noise.flow_noise_sd > 0:
        # slow multiplicative fluctuations: AR(1) with ~150 ms correlation time
        phi = np.exp(-dt / 0.15)
        white = rng.normal(0.0, noise.flow_noise_sd * np.sqrt(1 - phi**2), n)
        white[0] = rng.normal(0.0, noise.flow_noise_sd)
        ar = lfilter([1.0], [1.0, -phi], white)
        flow *= 1.0 + np.clip(ar, -0.2, 0.2)

    volume_l = np.concatenate([[0.0], np.cumsum(0.5 * (flow[1:] + flow[:-1]) * dt)])
    volume_ml = 1000.0 * volume_l
    if noise.volume_noise_ml > 0:
        volume_ml = volume_ml + rng.normal(0.0, noise.volume_noise_ml, n)
    volume_ml = np.maximum.accumulate(np.maximum(volume_ml, 0.0))
    return np.concatenate([np.zeros(n_hesitate), volume_ml])


def _check_people(people: pd.DataFrame) -> None:
    require_columns(people, PEOPLE_COLUMNS)
    bad_sex = ~people["sex"].isin([0, 1])
    if bad_sex.any():
        iid = people.loc[bad_sex, "IID"].iloc[0]
        raise InputError(None, "sex must be 0 or 1", "code sex 0=female, 1=male", record=str(iid))


def simulate_spirometry(
    people: pd.DataFrame,
    out_table: Path,
    max_blows: int,
    seed: int,
    effects: ShapeEffects = DEFAULT_EFFECTS,
    noise: BlowNoise = DEFAULT_NOISE,
    nuisance: ShapeNuisance = DEFAULT_NUISANCE,
) -> pd.DataFrame:
    """Simulate field-3066 blows for ``people`` and return their measured markers.

    ``people`` has FID, IID (str), age, sex (0=female, 1=male), height (cm) and
    latent_0..latent_2. Each person gets 1..``max_blows`` blows (85% get
    ``max_blows``), written to ``out_table`` as the TSV ``eid, 3066-0.0, 3066-0.1,
    3066-0.2`` (absent blows empty; atomically via a temporary file). Person ``i``
    (row order) uses ``np.random.default_rng([seed, i])``, so a seed always gives the
    same table. Returns FID, IID, fev1, fvc, fev1_fvc, pef measured on each person's
    best blow (largest FEV1 + FVC), rounded to 4 decimals.
    """
    if not 1 <= int(max_blows) <= len(BLOW_COLUMNS):
        raise ValueError(f"max_blows must be between 1 and {len(BLOW_COLUMNS)}, got {max_blows}")
    max_blows = int(max_blows)
    _check_people(people)
    out_table = Path(out_table)

    iids = people["IID"].astype(str).tolist()
    fids = people["FID"].astype(str).tolist()
    cov = people[["age", "sex", "height"]].to_numpy(dtype=np.float64)
    latents = people[["latent_0", "latent_1", "latent_2"]].to_numpy(dtype=np.float64)

    lines = ["\t".join(["eid", *BLOW_COLUMNS])]
    markers = np.empty((len(people), 4))
    for i in range(len(people)):
        rng = np.random.default_rng([seed, i])
        if max_blows == 1 or rng.random() < 0.85:
            n_blows = max_blows
        else:
            n_blows = int(rng.integers(1, max_blows))
        age, sex, height = cov[i]
        shape = latent_to_shape(latents[i], float(age), int(sex), float(height), effects)
        shape = person_shape(shape, rng, nuisance)
        blows = [np.rint(simulate_blow(shape, rng, noise)) for _ in range(n_blows)]
        metrics = [blow_metrics(b) for b in blows]
        best = int(np.argmax([m["fev1"] + m["fvc"] for m in metrics]))
        m = metrics[best]
        markers[i] = (m["fev1"], m["fvc"], m["fev1_fvc"], m["pef"])
        cells = [format_blow(b) for b in blows] + [""] * (len(BLOW_COLUMNS) - n_blows)
        lines.append("\t".join([iids[i], *cells]))

    with atomic_open(out_table, "w", encoding="ascii", newline="\n") as fh:
        fh.write("\n".join(lines))
        fh.write("\n")

    out = pd.DataFrame(np.round(markers, 4), columns=MARKER_COLUMNS[2:])
    out.insert(0, "IID", iids)
    out.insert(0, "FID", fids)
    return out


def plot_flow_volume(table: Path, out_png: Path, n: int = 12) -> None:
    """Plot the best blows of the first ``n`` people of a field-3066 table.

    Left: flow (L/s) against exhaled volume (L); right: volume (L) against time (s).
    Curves are coloured by FEV1/FVC.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import cm, colors

    blows = read_3066_table(Path(table))
    chosen = []
    for iid, person in list(blows.items())[:n]:
        b = person[best_blow(person)]
        chosen.append((iid, b, blow_metrics(b)))
    if not chosen:
        raise InputError(table, "no blows to plot", "check the spirometry table")
    ratios = [m["fev1_fvc"] for _, _, m in chosen]
    norm = colors.Normalize(vmin=min(0.55, min(ratios)), vmax=max(0.9, max(ratios)))
    cmap = plt.get_cmap("viridis")

    fig, (ax_fv, ax_vt) = plt.subplots(1, 2, figsize=(12, 5), constrained_layout=True)
    for _iid, b, m in chosen:
        colour = cmap(norm(m["fev1_fvc"]))
        vol, flow = flow_volume(b)
        ax_fv.plot(vol, flow, color=colour, lw=1.4)
        t = np.arange(b.size) * SAMPLE_INTERVAL_S
        ax_vt.plot(t, (b - b[0]) / 1000.0, color=colour, lw=1.4)
    ax_fv.set_xlabel("Exhaled volume (L)")
    ax_fv.set_ylabel("Flow (L/s)")
    ax_fv.set_title(f"Flow-volume curves, best blow of {len(chosen)} people")
    ax_fv.set_xlim(left=0)
    ax_fv.set_ylim(bottom=0)
    ax_fv.grid(alpha=0.3)
    ax_vt.set_xlabel("Time (s)")
    ax_vt.set_ylabel("Exhaled volume (L)")
    ax_vt.set_title("Volume-time curves (field 3066, 10 ms samples)")
    ax_vt.set_xlim(left=0)
    ax_vt.set_ylim(bottom=0)
    ax_vt.grid(alpha=0.3)
    fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), ax=[ax_fv, ax_vt], label="FEV1/FVC")
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
