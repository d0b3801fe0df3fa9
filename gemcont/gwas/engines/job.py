"""One chromosome's job for an external engine (plink2, REGENIE): the same inputs for
both, so the driver builds it once and each engine adds only its own settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gemcont.gwas.genotypes import GwasGenotypes


@dataclass(frozen=True)
class ChromosomeJob:
    """``genotypes``: what the GWAS scans; ``pheno_path`` / ``covar_path``: the prepared GWAS inputs
    (covar None: none); ``traits``: phenotype columns to scan; ``workdir``: where the
    tool's own files go."""

    genotypes: GwasGenotypes
    pheno_path: str | Path
    covar_path: str | Path | None
    chrom: str
    traits: list[str]
    threads: int | None
    workdir: Path

    def out(self, tool: str) -> Path:
        """The tool's output prefix for this chromosome."""
        return self.workdir / f"{tool}_chr{self.chrom}"
