"""The paper's rotation simulation (Fig. 2): genotypes -> latent z -> glyph rotation.

* Architecture (fixed by the simulation seed): ``n_causal`` causal variants with
  β_j ∈ {-1, +1} and ``n_null`` null variants (β = 0, for calibration); allele
  frequencies f_j ~ U(``maf_range``).
* Genotypes G_ij ~ Binomial(2, f_j), independent variants (no LD), int8.
* z = √h · std(Gβ) + √(1-h) · std(ε), ε ~ N(0, 1). std() uses the population mean and
  sd of Gβ (Σ 2f_jβ_j and √Σ 2f_j(1-f_j)β_j²), so train and test people share one scale
  and z ~ N(0, 1).
* Rotation α = α_max · tanh(c · z) degrees, counter-clockwise; c = 0.5 keeps |c·z| < 1.5
  for 99.7% of people.
* External GWAS (the genetic encoder's initialisation): per-allele effect estimates of
  z from an independent cohort of ``n`` people, β̂_j ~ N(b_j, 1 / (n · 2f_j(1-f_j))) with
  b_j = √h β_j / sd(Gβ) the true per-allele effect on z; or the true b_j (``n`` None).
  The genetic encoder's panel is the variants at p < a threshold in it (paper: 1e-5).

People are drawn from named random streams: the fixed test set from (seed, "test"),
the training people of replicate k from (seed, "train", k). Genotypes, noise and glyph
nuisance use separate child streams, so changing h or α_max changes z and the rotation
of the same people with the same glyphs.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from gemcont.errors import ConfigError
from gemcont.rotation.glyphs import GlyphBank, GlyphSettings, glyph_bank, render_people
from gemcont.rotation.settings import SimulationSettings

STREAMS = {"test": 0, "train": 1, "external": 2, "architecture": 3}


@dataclass(frozen=True)
class Architecture:
    """Variants (causal first, then null): frequencies, effects, and the score's moments."""

    freq: np.ndarray  # M, effect-allele frequency
    beta: np.ndarray  # M, ±1 for causal, 0 for null
    causal: np.ndarray  # M, bool
    score_mean: float  # E[Gβ]
    score_sd: float  # sd(Gβ) in the population

    @property
    def n_variants(self) -> int:
        return len(self.freq)


@dataclass
class People:
    """One simulated set of people."""

    geno: np.ndarray  # n x M int8 allele counts
    z: np.ndarray  # n float64, the latent trait
    genetic: np.ndarray  # n float64, std(Gβ) (the genetic part before √h)
    angle: np.ndarray  # n float64, rotation in degrees
    images: np.ndarray  # n x 1 x 28 x 28 uint8
    glyph: np.ndarray  # n int, base glyph index


def stream(seed: int, *path: int | str) -> np.random.SeedSequence:
    """A seed sequence for the named stream (strings map through STREAMS)."""
    keys = [STREAMS[p] if isinstance(p, str) else int(p) for p in path]
    return np.random.SeedSequence([int(seed), *keys])


def architecture(
    seed: int, n_causal: int, n_null: int, maf_range: tuple[float, float] = (0.05, 0.5)
) -> Architecture:
    """Causal and null variants with f ~ U(maf_range) and β_j ∈ {-1, +1} for causal ones."""
    rng = np.random.default_rng(stream(seed, "architecture"))
    m = n_causal + n_null
    freq = rng.uniform(maf_range[0], maf_range[1], m)
    beta = np.zeros(m)
    beta[:n_causal] = rng.choice([-1.0, 1.0], n_causal)
    causal = np.arange(m) < n_causal
    mean = float(np.sum(2 * freq * beta))
    sd = float(np.sqrt(np.sum(2 * freq * (1 - freq) * beta**2)))
    return Architecture(freq, beta, causal, mean, sd)


def genotypes(arch: Architecture, n: int, rng: np.random.Generator) -> np.ndarray:
    """n x M allele counts ~ Binomial(2, f_j), int8 (row i depends on the first i rows' draws
    only, so a smaller n gives the first rows of a larger one)."""
    out = np.empty((n, arch.n_variants), np.int8)
    chunk = max(1, 2**22 // max(arch.n_variants, 1))
    for start in range(0, n, chunk):
        rows = min(chunk, n - start)
        out[start : start + rows] = rng.binomial(2, arch.freq, (rows, arch.n_variants))
    return out


def genetic_score(geno: np.ndarray, arch: Architecture) -> np.ndarray:
    """std(Gβ) with the population moments."""
    causal = np.flatnonzero(arch.causal)
    score = geno[:, causal].astype(np.float64) @ arch.beta[causal]
    return (score - arch.score_mean) / arch.score_sd


def latent_z(genetic: np.ndarray, noise: np.ndarray, h: float) -> np.ndarray:
    """z = √h · std(Gβ) + √(1-h) · ε."""
    return np.sqrt(h) * genetic + np.sqrt(1.0 - h) * noise


def rotation_angle(z: np.ndarray, alpha_max: float, c: float) -> np.ndarray:
    """α = α_max · tanh(c · z), degrees."""
    return alpha_max * np.tanh(c * np.asarray(z, np.float64))


def per_allele_effects(arch: Architecture, h: float) -> np.ndarray:
    """True per-allele effects of each variant on z: √h β_j / sd(Gβ)."""
    return np.sqrt(h) * arch.beta / arch.score_sd


def external_gwas(
    arch: Architecture, h: float, n_people: int | None, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(β̂, SE) of an external GWAS of z in ``n_people`` independent people; the true
    effects with SE 0 when ``n_people`` is None."""
    effect = per_allele_effects(arch, h)
    if n_people is None:
        return effect, np.zeros_like(effect)
    # residual variance of z given one variant ~ 1: SE = 1 / sqrt(n · 2f(1-f))
    se = 1.0 / np.sqrt(n_people * 2 * arch.freq * (1 - arch.freq))
    rng = np.random.default_rng(stream(seed, "external"))
    return effect + se * rng.standard_normal(arch.n_variants), se


def panel(beta_hat: np.ndarray, se: np.ndarray, p_threshold: float) -> np.ndarray:
    """Variants whose external GWAS two-sided p is below ``p_threshold`` (indices), as the
    paper builds its panel; with exact effects (SE 0) the variants with a non-zero effect."""
    beta_hat, se = np.asarray(beta_hat, np.float64), np.asarray(se, np.float64)
    exact = se == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 2 * norm.sf(np.abs(beta_hat / se))
    p = np.where(exact, np.where(beta_hat != 0, 0.0, 1.0), p)
    return np.flatnonzero(p < p_threshold)


def simulate_people(
    arch: Architecture,
    n: int,
    h: float,
    alpha_max: float,
    c: float,
    bank: GlyphBank,
    glyphs: GlyphSettings,
    seed_seq: np.random.SeedSequence,
) -> People:
    """``n`` people from ``seed_seq``: genotypes, z, rotation and their glyph images."""
    geno_ss, noise_ss, glyph_ss = seed_seq.spawn(3)
    geno = genotypes(arch, n, np.random.default_rng(geno_ss))
    genetic = genetic_score(geno, arch)
    noise = np.random.default_rng(noise_ss).standard_normal(n)
    z = latent_z(genetic, noise, h)
    angle = rotation_angle(z, alpha_max, c)
    images, which = render_people(bank, angle, glyphs, np.random.default_rng(glyph_ss))
    return People(geno, z, genetic, angle, images, which)


@dataclass(frozen=True)
class Simulation:
    """The simulated data of a point and replicate: the genetic encoder's panel (variant indices)
    and its external GWAS betas, beside the architecture and the people."""

    arch: Architecture
    train: People
    test: People
    variants: np.ndarray
    betas: np.ndarray


@functools.lru_cache(maxsize=1)
def simulate(settings: SimulationSettings, replicate: int) -> Simulation:
    """Architecture, training people of ``replicate``, test people and panel of one
    point (``settings`` hold its ``n_train``, ``h`` and ``alpha_max``); the last result
    is kept, so several methods of one point simulate once."""
    s = settings
    bank = glyph_bank(s.glyphs)
    arch = architecture(s.seed, s.n_causal, s.n_null, (s.maf_min, s.maf_max))
    common = dict(h=s.h, alpha_max=s.alpha_max, c=s.c, bank=bank, glyphs=s.glyphs)
    train = simulate_people(arch, s.n_train, **common, seed_seq=stream(s.seed, "train", replicate))
    test = simulate_people(arch, s.n_test, **common, seed_seq=stream(s.seed, "test"))
    beta_hat, se = external_gwas(arch, s.h, s.external_gwas_n, s.seed)
    variants = panel(beta_hat, se, s.panel_p_threshold)
    if variants.size == 0:
        raise ConfigError(
            "rotation.panel_p_threshold",
            f"no variant reaches p < {s.panel_p_threshold:g} in the external GWAS of "
            f"{s.external_gwas_n} people; raise the threshold or external_gwas_n",
        )
    return Simulation(arch, train, test, variants, beta_hat[variants])
