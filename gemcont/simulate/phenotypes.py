"""Render the simulated cohort's phenotypes from its latent traits and covariates."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gemcont.io.tables import write_tsv
from gemcont.simulate import fundus, spirometry
from gemcont.simulate.defects import choose, fundus_defects, spirometry_defects
from gemcont.simulate.settings import SimulateSettings


def people_table(covariates: Path, latent: Path) -> pd.DataFrame:
    """FID, IID, age, sex, height and latent_0..k of every cohort member."""
    ids = {"FID": str, "IID": str}
    cov = pd.read_csv(covariates, sep="\t", dtype=ids)
    lat = pd.read_csv(latent, sep="\t", dtype=ids)
    latent_cols = [c for c in lat.columns if c.startswith("latent_") and c[7:].isdigit()]
    people = cov[["FID", "IID", "age", "sex", "height"]].merge(
        lat[["FID", "IID", *latent_cols]], on=["FID", "IID"], how="inner", validate="1:1"
    )
    if len(people) != len(cov):
        raise ValueError(f"{covariates} and {latent} list different people")
    for k in range(len(latent_cols), 3):  # renderers take three traits; absent ones are 0
        people[f"latent_{k}"] = 0.0
    return people


def planted(people: pd.DataFrame, settings: SimulateSettings) -> tuple[list[str], list[str]]:
    """People without a phenotype record and people with a corrupt one."""
    d = settings.defects
    return choose(people["IID"].tolist(), d.no_phenotype_fraction, d.corrupt_records, settings.seed)


def simulate_spirometry_files(
    people: pd.DataFrame, settings: SimulateSettings, table: Path, markers: Path, plot: Path
) -> None:
    """Field-3066 blows, the FEV1/FVC marker table and a flow-volume plot."""
    marker = spirometry.simulate_spirometry(
        people, table, max_blows=settings.spirometry.max_blows, seed=settings.seed
    )
    write_tsv(marker, markers)
    spirometry.plot_flow_volume(table, plot, n=12)
    spirometry_defects(table, *planted(people, settings))


def simulate_fundus_files(
    people: pd.DataFrame,
    settings: SimulateSettings,
    manifest: Path,
    markers: Path,
    sheet: Path,
    threads: int,
) -> None:
    """Fundus images (paths relative to the manifest), cup-to-disc marker, contact sheet."""
    f = settings.fundus
    out_dir = Path(manifest).parent
    table, marker = fundus.simulate_fundus(
        people,
        out_dir,
        image_size=f.image_size,
        both_eyes_fraction=f.both_eyes_fraction,
        marker_noise_sd=f.marker_noise_sd,
        seed=settings.seed,
        threads=threads,
    )
    fundus.contact_sheet(
        [out_dir / p for p in table["path"].head(16)],
        sheet,
        title="Simulated fundus photographs (first 16)",
    )
    write_tsv(fundus_defects(table, out_dir, *planted(people, settings)), manifest)
    write_tsv(marker, markers)
