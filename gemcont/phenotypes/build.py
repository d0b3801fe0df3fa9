"""The phenotype-store stage for the configured modality."""

from __future__ import annotations

from pathlib import Path

from gemcont.io.plink import read_fam
from gemcont.phenotypes.fundus import build_fundus_store
from gemcont.phenotypes.spirometry import build_spirometry_store


def build_store(data: dict, cfg: dict, fam_path: str, out_dir: Path, threads: int) -> None:
    """Preprocess fundus images or spirometry blows into ``out_dir`` (images.npy + index)."""
    fam = read_fam(fam_path)
    if data["modality"] == "fundus":
        build_fundus_store(
            data["fundus_manifest"],
            out_dir,
            image_size=cfg["fundus_image_size"],
            threshold=cfg["fundus_threshold"],
            min_kept_fraction=cfg["min_kept_fraction"],
            threads=threads,
            fam=fam,
        )
    else:
        build_spirometry_store(
            data["spirometry_table"],
            out_dir,
            raster_size=cfg["spirometry_raster_size"],
            curve_points=cfg["spirometry_curve_points"],
            volume_max_l=cfg["volume_max_l"],
            flow_max_l_s=cfg["flow_max_l_s"],
            min_kept_fraction=cfg["min_kept_fraction"],
            instance=cfg["spirometry_instance"],
            fam=fam,
        )
