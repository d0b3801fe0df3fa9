"""Coalescent genotypes with recombination (msprime), thinned to array density.

One ancestry simulation per chromosome yields the cohort and the external GWAS
cohort together, so both share one population's allele frequencies and LD.
Decoding every site is infeasible (dense int32), so allele counts come from the
trees, rare sites are dropped, common sites are thinned to the configured
spacing and only those are decoded.
"""

from __future__ import annotations

from dataclasses import dataclass

import msprime
import numpy as np
import pandas as pd

from gemcont.simulate.settings import GenotypeSettings


@dataclass(frozen=True)
class ChromosomeSpec:
    """One chromosome to simulate: its number, the people of both cohorts, the seed."""

    chrom: int
    n_individuals: int
    genotypes: GenotypeSettings
    seed: int


def growth_demography(genotypes: GenotypeSettings) -> msprime.Demography:
    """Constant ancestral size, then exponential growth over the last generations.

    Recent growth keeps a biobank-sized sample (often larger than the ancestral
    effective size) free of the excess recent coalescences, i.e. cryptic
    relatedness, that a constant-size coalescent would put into it.
    """
    g = genotypes
    growth = np.log(g.recent_population_size / g.effective_population_size) / g.growth_generations
    demography = msprime.Demography()
    demography.add_population(name="pop", initial_size=g.recent_population_size, growth_rate=growth)
    demography.add_population_parameters_change(
        time=g.growth_generations, growth_rate=0, initial_size=g.effective_population_size
    )
    return demography


def _common_sites(ts, n_haplotypes: int, min_maf: float) -> tuple[np.ndarray, np.ndarray]:
    """Site ids and positions whose derived-allele frequency passes ``min_maf``."""
    sites, positions = [], []
    for tree in ts.trees():
        for site in tree.sites():
            count = tree.num_samples(site.mutations[0].node)
            freq = count / n_haplotypes
            if min_maf <= freq <= 1 - min_maf:
                sites.append(site.id)
                positions.append(site.position)
    return np.asarray(sites, dtype=np.int64), np.asarray(positions)


def _thin(site_ids: np.ndarray, positions: np.ndarray, spacing: int, rng) -> np.ndarray:
    """One random common site per ``spacing`` window, like a genotyping array."""
    windows = (positions // spacing).astype(np.int64)
    order = rng.permutation(len(site_ids))
    _, first = np.unique(windows[order], return_index=True)
    return np.sort(site_ids[order[first]])


def simulate_chromosome(spec: ChromosomeSpec) -> tuple[pd.DataFrame, np.ndarray]:
    """Simulate one chromosome; return (bim frame, individuals x variants int8 dosages of A1)."""
    g = spec.genotypes
    rng = np.random.default_rng([spec.seed, spec.chrom])
    ts = msprime.sim_ancestry(
        samples=spec.n_individuals,
        ploidy=2,
        demography=growth_demography(g),
        sequence_length=int(g.chromosome_length_mb * 1e6),
        recombination_rate=g.recombination_rate,
        random_seed=int(rng.integers(1, 2**31 - 1)),
    )
    ts = msprime.sim_mutations(
        ts,
        rate=g.mutation_rate,
        model=msprime.BinaryMutationModel(),
        discrete_genome=False,
        random_seed=int(rng.integers(1, 2**31 - 1)),
    )
    site_ids, positions = _common_sites(ts, ts.num_samples, g.min_maf)
    keep = _thin(site_ids, positions, int(g.snp_spacing_kb * 1e3), rng)
    ts = ts.delete_sites(np.setdiff1d(np.arange(ts.num_sites), keep))
    dosages = np.empty((spec.n_individuals, ts.num_sites), dtype=np.int8)
    pos = np.empty(ts.num_sites, dtype=np.int64)
    for j, var in enumerate(ts.variants(copy=False)):
        hap = var.genotypes
        dosages[:, j] = hap[0::2] + hap[1::2]
        pos[j] = int(var.site.position) + 1
    pos = _strictly_increasing(pos)
    alleles = _random_allele_pairs(rng, len(pos), g.ambiguous_fraction)
    bim = pd.DataFrame(
        {
            "CHR": str(spec.chrom),
            "ID": [f"rs{spec.chrom}{p:09d}" for p in pos],
            "CM": 0.0,
            "POS": pos,
            "A1": alleles[:, 0],
            "A2": alleles[:, 1],
        }
    )
    return bim, dosages


def _strictly_increasing(pos: np.ndarray) -> np.ndarray:
    """Integer positions, nudged so that no two sites share a base pair."""
    out = pos.copy()
    for i in range(1, len(out)):
        if out[i] <= out[i - 1]:
            out[i] = out[i - 1] + 1
    return out


UNAMBIGUOUS_PAIRS = np.array([("A", "C"), ("A", "G"), ("C", "T"), ("G", "T")])
AMBIGUOUS_PAIRS = np.array([("A", "T"), ("C", "G")])


def _random_allele_pairs(rng: np.random.Generator, n: int, ambiguous_fraction: float) -> np.ndarray:
    """Derived (A1) and ancestral (A2) bases; ``ambiguous_fraction`` are A/T or C/G."""
    pairs = UNAMBIGUOUS_PAIRS[rng.integers(0, 4, n)]
    ambiguous = rng.random(n) < ambiguous_fraction
    pairs[ambiguous] = AMBIGUOUS_PAIRS[rng.integers(0, 2, ambiguous.sum())]
    swap = rng.random(n) < 0.5
    pairs[swap] = pairs[swap, ::-1]
    return pairs
