"""REGENIE step 1 as biobanks run it: its variants chosen by plink2 (run for real) among
the held-out people (MAF, MAC, missingness, LD pruning) and passed with --extract.

REGENIE itself is not installable here; a stand-in stops as REGENIE v4.1.2 does on a
step-1 variant without variance among the analysed people ("has low variance") and
records its command line."""

from __future__ import annotations

import json
import logging
import sys

import numpy as np
import pandas as pd
import pytest

from gemcont.gwas.engines.plink2 import ToolError
from gemcont.gwas.engines.regenie import run_regenie, step1, step1_command, step1_qc_command
from gemcont.gwas.prepare import write_phenotypes
from gemcont.gwas.settings import gwas_settings
from gemcont.io.plink import write_bed

N_PEOPLE, N_HELDOUT, N_VARIANTS = 600, 300, 120
MONOMORPHIC = ["rs10", "rs11", "rs70"]  # no minor allele among the held-out people
RARE = "rs20"  # MAC 30 among the held-out people: below the MAC 100 default
MISSING = "rs30"  # 20 % missing among the held-out people
DUPLICATE = ("rs40", "rs41")  # the same calls: one is pruned

FAKE_REGENIE = '''#!{python}
"""Stand-in for regenie step 1: writes its arguments to <out>.args.json; stops like
REGENIE when a variant it would use has no variance among the phenotyped people."""
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from bed_reader import open_bed

args = sys.argv[1:]
opt = {{k: v for k, v in zip(args, args[1:]) if k.startswith("--")}}
out = opt["--out"]
Path(out + ".args.json").write_text(json.dumps(args))
pheno = pd.read_csv(opt["--phenoFile"], sep=r"\\s+", dtype=str)
bed = open_bed(opt["--bed"] + ".bed", count_A1=True)
people = np.flatnonzero(np.isin(bed.iid, pheno["IID"]))
ids = list(bed.sid)
if "--extract" in opt:
    ids = [i for i in Path(opt["--extract"]).read_text().split() if i]
cols = [list(bed.sid).index(i) for i in ids]
g = bed.read(index=np.s_[people, cols], dtype="float64")
low = [i for i, v in zip(ids, np.nanvar(g, axis=0)) if not v > 0]
if low:
    Path(out + ".log").write_text(f"ERROR: SNP {{low[0]}} has low variance (=0).\\n")
    sys.exit(1)
Path(out + "_pred.list").write_text("".join(
    f"{{t}} {{t}}.loco\\n" for t in opt["--phenoColList"].split(",")))
'''


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """600 people, 120 variants on chromosomes 1-2; the first 300 people are held out."""
    rng = np.random.default_rng(17)
    root = tmp_path_factory.mktemp("step1")
    ids = [f"rs{i}" for i in range(N_VARIANTS)]
    g = rng.binomial(2, rng.uniform(0.2, 0.5, N_VARIANTS), (N_PEOPLE, N_VARIANTS)).astype(float)
    col = {name: ids.index(name) for name in ids}
    for name in MONOMORPHIC:  # minor allele only among the training people
        g[:N_HELDOUT, col[name]] = 0.0
    g[:N_HELDOUT, col[RARE]] = 0.0
    g[:30, col[RARE]] = 1.0
    g[: N_HELDOUT // 5, col[MISSING]] = np.nan
    g[:, col[DUPLICATE[1]]] = g[:, col[DUPLICATE[0]]]
    fam = pd.DataFrame({"FID": [f"f{i}" for i in range(N_PEOPLE)]})
    fam["IID"] = [f"i{i}" for i in range(N_PEOPLE)]
    half = N_VARIANTS // 2
    bim = pd.DataFrame(
        {
            "CHR": ["1"] * half + ["2"] * half,
            "ID": ids,
            "CM": 0.0,
            "POS": 10_000 + 1_000 * (np.arange(N_VARIANTS) % half),
            "A1": "A",
            "A2": "C",
        }
    )
    write_bed(root / "g", g, fam, bim)
    held = fam.iloc[:N_HELDOUT].reset_index(drop=True)
    pheno = held.assign(Y0=rng.normal(size=N_HELDOUT), Y1=rng.normal(size=N_HELDOUT))
    write_phenotypes(pheno, root / "pheno.tsv")
    covar = held.assign(C1=rng.normal(size=N_HELDOUT))
    write_phenotypes(covar, root / "covar.tsv")
    fake = root / "regenie"
    fake.write_text(FAKE_REGENIE.format(python=sys.executable))
    fake.chmod(0o755)
    return {"root": root, "bfile": str(root / "g"), "fake": str(fake)}


def test_step1__without_qc_stops_on_a_variant_monomorphic_in_the_heldout(cohort: dict) -> None:
    """What the workflow did before: every .bed variant, and REGENIE stops."""
    root = cohort["root"]
    cmd = step1_command(
        cohort["bfile"], root / "pheno.tsv", root / "raw", pheno_cols=["Y0"], binary=cohort["fake"]
    )
    with pytest.raises(ToolError, match=r"SNP rs10 has low variance"):
        run_regenie(cmd, root / "raw")


def test_step1__extracts_the_variants_that_pass_qc_among_the_heldout(
    cohort: dict, caplog: pytest.LogCaptureFixture
) -> None:
    root = cohort["root"]
    settings = gwas_settings({"regenie": {"binary": cohort["fake"], "lowmem": False}})
    with caplog.at_level(logging.INFO):
        pred = step1(
            cohort["bfile"], root / "pheno.tsv", root / "covar.tsv", root / "fit", settings.regenie
        )
    assert pred == root / "fit_pred.list" and pred.exists()
    listed = root / "fit_qc.prune.in"
    args = json.loads((root / "fit.args.json").read_text())
    assert args[:6] == ["--step", "1", "--bed", cohort["bfile"], "--extract", str(listed)]
    kept = listed.read_text().split()
    pruned = (root / "fit_qc.prune.out").read_text().split()
    excluded = {*MONOMORPHIC, RARE, MISSING}
    assert not excluded & {*kept, *pruned}  # failed the filters among the held-out people
    assert len(kept) + len(pruned) == N_VARIANTS - len(excluded)
    assert sum(name in kept for name in DUPLICATE) == 1 and pruned  # r2 = 1: one of the two
    # the people: the held-out ones (the whole cohort would keep the monomorphic ones)
    keep = pd.read_csv(root / "fit_qc.keep", sep="\t")
    assert list(keep.columns) == ["#FID", "IID"] and len(keep) == N_HELDOUT
    message = next(r.getMessage() for r in caplog.records if "step 1 variants" in r.getMessage())
    assert f"among {N_HELDOUT} held-out people" in message
    assert f"{len(kept) + len(pruned)} of {N_VARIANTS}" in message
    assert f"({len(excluded)} fail); {len(kept)} remain" in message
    assert f"{len(pruned)} pruned" in message


def test_step1_qc_command__defaults_are_regenies_recipe() -> None:
    qc = gwas_settings().regenie.step1_qc
    cmd = step1_qc_command("g", "k.txt", "o", qc, "plink2")
    assert cmd == [
        "plink2",
        "--bfile",
        "g",
        "--keep",
        "k.txt",
        "--maf",
        "0.01",
        "--mac",
        "100",
        "--geno",
        "0.1",
        "--indep-pairwise",
        "1000",
        "100",
        "0.9",
        "--out",
        "o",
    ]
