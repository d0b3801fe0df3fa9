"""panel.tsv, the variant panel: its columns and the one reader of the file.

``EA`` is the cohort's counted allele (.bim A1, :mod:`gemcont.io.plink`) and ``BETA``
its effect; ``LOG10P`` is -log10 P, exact where P underflows to 0 (below 1e-308);
``BIM_INDEX`` is the variant's row in the cohort .bim/.bed, or, with
``data.panel_genotypes`` set, in that file set's variant table (a ``{chrom}`` file set's
chromosomes one after the other).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

PANEL_COLUMNS = ["ID", "CHR", "POS", "EA", "OA", "EAF", "BETA", "SE", "P", "LOG10P", "BIM_INDEX"]
TEXT_COLUMNS = ("ID", "CHR", "EA", "OA")


def read_panel(path: str | Path) -> pd.DataFrame:
    """Read panel.tsv: ID, CHR and the alleles as text, the numbers as numbers."""
    return pd.read_csv(path, sep="\t", dtype=dict.fromkeys(TEXT_COLUMNS, str))
