"""The phenotype-store stage for the configured modality."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gemcont.io.plink import read_fam
from gemcont.io.spirometry import BlowCriteria
from gemcont.phenotypes.fundus import build_fundus_store
from gemcont.phenotypes.spirometry import build_spirometry_store


@dataclass(frozen=True)
class PhenotypeSettings:
    """Config section ``phenotypes`` (meanings and defaults in the schema)."""

    min_kept_fraction: float
    fundus_image_size: int
    fundus_threshold: int
    spirometry_raster_size: int
    spirometry_curve_points: int
    volume_max_l: float
    flow_max_l_s: float
    spirometry_instance: int
    spirometry_qc: BlowCriteria


def build_store(
    modality: str,
    source: str,
    cfg: PhenotypeSettings,
    fam_path: str,
    out_dir: Path,
    threads: int,
    exclude: str | None = None,
) -> None:
    """Preprocess the ``modality``'s raw file ``source`` (fundus manifest or spirometry
    table, ``data.modality``) into ``out_dir`` (images.npy + index); withdrawn
    participants (negative IIDs, and those of ``exclude``: data.exclude) are listed in
    the exclusions, never read."""
    fam = read_fam(fam_path)
    if modality == "fundus":
        build_fundus_store(
            source,
            out_dir,
            image_size=cfg.fundus_image_size,
            threshold=cfg.fundus_threshold,
            min_kept_fraction=cfg.min_kept_fraction,
            threads=threads,
            fam=fam,
            exclude=exclude,
        )
    else:
        build_spirometry_store(
            source,
            out_dir,
            raster_size=cfg.spirometry_raster_size,
            curve_points=cfg.spirometry_curve_points,
            volume_max_l=cfg.volume_max_l,
            flow_max_l_s=cfg.flow_max_l_s,
            min_kept_fraction=cfg.min_kept_fraction,
            instance=cfg.spirometry_instance,
            fam=fam,
            criteria=cfg.spirometry_qc,
            exclude=exclude,
        )
