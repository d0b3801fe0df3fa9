"""The built-in embedding-GWAS engine on the simulated cohort: calibrated under the
null, and it finds the causal variants of a latent trait with the power theory gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from gemcont.gwas.engines.builtin import run_builtin_gwas
from gemcont.gwas.loci import lambda_gc
from gemcont.gwas.settings import gwas_settings

from .conftest import read


def phenotype_frame(fam: pd.DataFrame, values: np.ndarray) -> pd.DataFrame:
    pheno = fam[["FID", "IID"]].astype(str).reset_index(drop=True)
    for d in range(values.shape[1]):
        pheno[f"Y{d}"] = values[:, d]
    return pheno


@pytest.fixture(scope="module")
def fam(sim) -> pd.DataFrame:
    _, paths = sim
    return read(paths.covariates)[["FID", "IID"]]


def test_builtin_gwas__calibrated_on_null_phenotypes(sim, fam):
    _, paths = sim
    y = np.random.default_rng(11).normal(size=(len(fam), 4))
    per_dim, multi = run_builtin_gwas(
        paths.bfile, phenotype_frame(fam, y), None, threads=2, settings=gwas_settings()
    )
    for p, df in ((per_dim["P"].to_numpy(), 1), (multi["P"].to_numpy(), 4)):
        assert 0.95 <= lambda_gc(p, df=df) <= 1.05
        n = len(p)
        low, high = stats.binom.interval(0.99, n, 1e-3)
        assert low <= (p < 1e-3).sum() <= high, ((p < 1e-3).sum(), low, high)


def test_builtin_gwas__finds_causal_variants_of_latent_trait(sim, fam):
    cfg, paths = sim
    latent = read(paths.latent).set_index("IID").loc[fam["IID"]]
    causal = read(paths.causal)
    causal = causal[causal["latent"] == 0]
    y = latent[["latent_0"]].to_numpy()
    _, multi = run_builtin_gwas(
        paths.bfile, phenotype_frame(fam, y), None, threads=2, settings=gwas_settings()
    )
    found = multi.set_index("ID").loc[causal["ID"], "P"].to_numpy() < 5e-8
    # expected power of each variant at N people: NCP = N * 2pq * beta^2 / var(y)
    n = len(fam)
    ncp = n * 2 * causal["EAF"] * (1 - causal["EAF"]) * causal["BETA_LATENT"] ** 2 / y.var()
    power = stats.ncx2.sf(stats.chi2.isf(5e-8, 1), 1, ncp.to_numpy())
    assert found[power > 0.99].all()
    assert abs(found.sum() - power.sum()) <= 3 * np.sqrt((power * (1 - power)).sum()) + 1
    assert found.sum() >= 1
