"""The GPU path of the built-in engine (.bed bytes decoded where the products run) and its
pieces, on the CPU through torch and, where there is one, on CUDA.

Imports neither bed-reader nor statsmodels at module level, so that the CUDA tests run
on the GPU machine (``pytest --noconftest tests/test_gwas_gpu.py``): filesets are
written by ``write_bed``, which falls back to numpy where bed-reader does not import.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gemcont.gwas.engines.builtin import run_builtin_gwas, scan_builtin_gwas
from gemcont.gwas.engines.torch_engine import DENSE_FRACTION, ieee_float32_matmul
from gemcont.gwas.kernel import Backend
from gemcont.gwas.settings import gwas_settings
from gemcont.io import plink
from gemcont.io.bed_codes import (
    MISSING_INT8,
    code_counts,
    code_counts_torch,
    decode_bed_torch,
    selection_bits,
)
from gemcont.io.plink import Genotypes, write_bed
from gemcont.io.sumstats import builtin_tables

torch = pytest.importorskip("torch")
HAS_CUDA = bool(shutil.which("nvidia-smi")) and torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not HAS_CUDA, reason="no CUDA GPU")
DEVICES = ["cpu", pytest.param("cuda", marks=needs_cuda)]
N_PEOPLE, N_VARIANTS, D = 1203, 301, 6  # odd N: the last .bed byte is padded


def skip_without_bed_reader() -> None:
    """Skip where bed-reader (the reference) does not import, e.g. its compiled module."""
    try:
        import bed_reader  # noqa: F401
    except ImportError as err:
        pytest.skip(f"bed-reader does not import: {err}")


def fileset(
    prefix: Path, n: int, m: int, seed: int, missing: float = 0.02
) -> tuple[pd.DataFrame, np.ndarray]:
    """Random dosages (missing calls, a monomorphic and an almost empty variant, A1
    alternating A/C) written as a fileset; returns (.fam IDs, samples x variants)."""
    rng = np.random.default_rng(seed)
    g = rng.binomial(2, rng.uniform(0.01, 0.5, m), size=(n, m)).astype(np.float64)
    g[rng.random(g.shape) < missing] = np.nan
    g[:, 1] = 2.0  # monomorphic
    g[5:, 2] = np.nan  # five calls
    fam = pd.DataFrame({"FID": [f"F{i}" for i in range(n)], "IID": [f"I{i}" for i in range(n)]})
    bim = pd.DataFrame(
        {
            "CHR": "1",
            "ID": [f"rs{j}" for j in range(m)],
            "CM": 0.0,
            "POS": np.arange(m) + 1,
            "A1": np.where(np.arange(m) % 2 == 0, "A", "C"),
            "A2": np.where(np.arange(m) % 2 == 0, "G", "T"),
        }
    )
    write_bed(prefix, g, fam, bim)
    return fam, g


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> dict:
    """A fileset, phenotypes with 3 causal variants and covariate effects, 2 covariates."""
    tmp = tmp_path_factory.mktemp("gpu_cohort")
    fam, g = fileset(tmp / "geno", N_PEOPLE, N_VARIANTS, seed=5)
    rng = np.random.default_rng(6)
    covar = rng.normal(size=(N_PEOPLE, 2))
    causal = np.nan_to_num(g[:, [10, 50, 200]], nan=1.0)
    y = causal @ rng.normal(scale=0.3, size=(3, D)) + covar @ rng.normal(size=(2, D))
    y += rng.normal(size=(N_PEOPLE, D)) @ rng.normal(size=(D, D))
    pheno_df = pd.concat([fam, pd.DataFrame(y).add_prefix("Y")], axis=1)
    covar_df = pd.concat([fam, pd.DataFrame(covar).add_prefix("C")], axis=1)
    return {"bfile": str(tmp / "geno"), "pheno_df": pheno_df, "covar_df": covar_df, "g": g}


def subset(cohort: dict, fraction: float) -> pd.DataFrame:
    """Phenotypes of a random ``fraction`` of the people (all of them at 1)."""
    n = int(round(N_PEOPLE * fraction))
    rows = np.sort(np.random.default_rng(7).choice(N_PEOPLE, n, replace=False))
    return cohort["pheno_df"].iloc[rows].reset_index(drop=True)


def assert_tables_close(got, want, rtol: float) -> None:
    """Same variants and counts; statistics within rtol (BETA relative to SE)."""
    (got_dims, got_multi), (want_dims, want_multi) = got, want
    assert got_multi["ID"].tolist() == want_multi["ID"].tolist()
    for col in ["EAF", "N"]:
        np.testing.assert_array_equal(got_multi[col], want_multi[col])
    se = want_dims["SE"].to_numpy()
    assert np.abs(got_dims["BETA"].to_numpy() - want_dims["BETA"]).max() <= rtol * se.max()
    np.testing.assert_allclose(got_dims["BETA"] / se, want_dims["BETA"] / se, atol=10 * rtol)
    np.testing.assert_allclose(got_dims["SE"], se, rtol=rtol)
    np.testing.assert_allclose(got_dims["LOG10P"], want_dims["LOG10P"], rtol=rtol, atol=rtol)
    np.testing.assert_allclose(got_multi["CHISQ"], want_multi["CHISQ"], rtol=rtol)
    np.testing.assert_allclose(got_multi["LOG10P"], want_multi["LOG10P"], rtol=rtol, atol=rtol)


# --- .bed bytes: writing, reading, decoding, counting ---------------------------------


@pytest.mark.parametrize("n", [1, 7, 8, 130])
def test_pack_bed__writes_the_file_bed_reader_writes(tmp_path, n) -> None:
    skip_without_bed_reader()
    fam, g = fileset(tmp_path / "bed_reader", n, 23, seed=n, missing=0.2)
    bim = plink.read_bim(tmp_path / "bed_reader.bim")
    plink._write_bed_numpy(plink.bed_paths(tmp_path / "numpy"), g, fam, bim)
    for ext in ["bed", "bim", "fam"]:
        a, b = (tmp_path / f"{name}.{ext}" for name in ["bed_reader", "numpy"])
        if ext == "bed":
            assert a.read_bytes() == b.read_bytes()
        else:
            pd.testing.assert_frame_equal(
                pd.read_csv(a, sep=r"\s+", header=None, dtype=str),
                pd.read_csv(b, sep=r"\s+", header=None, dtype=str),
            )


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("n", [1, 5, 130, 1203])
def test_decode_bed_torch__equals_bed_reader(tmp_path, n, device) -> None:
    """Same dosages of the .bim A1 allele as bed-reader (count_A1), NaN where missing."""
    skip_without_bed_reader()
    fileset(tmp_path / "geno", n, 41, seed=n, missing=0.1)
    with Genotypes(tmp_path / "geno") as genotypes:
        expected = genotypes.read(dtype="float32")  # bed-reader, samples x variants
        assert np.isnan(expected).any()
        packed = torch.from_numpy(np.array(genotypes.read_packed(np.arange(41)))).to(device)
        got = decode_bed_torch(packed, n).cpu().numpy().T
        np.testing.assert_array_equal(got, expected)  # NaN positions included
        got64 = decode_bed_torch(packed, n, dtype=torch.float64).cpu().numpy().T
        np.testing.assert_array_equal(got64, expected.astype(np.float64))


@pytest.mark.parametrize("device", DEVICES)
def test_decode_bed_torch__equals_the_numpy_decoder(cohort, device) -> None:
    """Against read_int8 (itself held to bed-reader): runs where bed-reader does not."""
    with Genotypes(cohort["bfile"]) as genotypes:
        rows = np.arange(N_VARIANTS)
        int8 = genotypes.read_int8(rows)  # samples x variants
        packed = torch.from_numpy(np.array(genotypes.read_packed(rows))).to(device)
    expected = np.where(int8 == MISSING_INT8, np.nan, int8)
    np.testing.assert_array_equal(decode_bed_torch(packed, N_PEOPLE).cpu().numpy().T, expected)
    np.testing.assert_array_equal(expected, cohort["g"])


def test_decode_bed_torch__counts_the_bim_a1_allele(tmp_path) -> None:
    """A1/A1 (2 copies of .bim column 5) is .bed code 00; A2/A2 code 11."""
    g = np.array([[2.0, 0.0, 1.0, np.nan, 2.0]]).T  # 5 samples x 1 variant
    fam = pd.DataFrame({"FID": list("abcde"), "IID": list("abcde")})
    bim = pd.DataFrame(
        {"CHR": ["1"], "ID": ["rs1"], "CM": [0.0], "POS": [1], "A1": ["T"], "A2": ["C"]}
    )
    plink._write_bed_numpy(plink.bed_paths(tmp_path / "one"), g, fam, bim)
    raw = (tmp_path / "one.bed").read_bytes()
    assert raw[3:] == bytes([0b01_10_11_00, 0b00])  # samples 4 3 2 1 (high to low), 5
    with Genotypes(tmp_path / "one") as genotypes:
        packed = torch.from_numpy(np.array(genotypes.read_packed([0])))
    np.testing.assert_array_equal(decode_bed_torch(packed, 5).numpy()[0], g[:, 0])


@pytest.mark.parametrize("device", DEVICES)
def test_code_counts__numpy_and_torch_equal_counts_of_decoded_calls(cohort, device) -> None:
    g = cohort["g"]
    rng = np.random.default_rng(0)
    with Genotypes(cohort["bfile"]) as genotypes:
        packed = np.array(genotypes.read_packed(np.arange(N_VARIANTS)))
    samples_list = [None, np.array([0]), np.arange(0, N_PEOPLE, 3), rng.permutation(N_PEOPLE)[:500]]
    for samples in samples_list:
        sub = g if samples is None else g[samples]
        expected = np.column_stack([(sub == 1).sum(0), (sub == 2).sum(0), np.isnan(sub).sum(0)])
        selected = selection_bits(N_PEOPLE, samples)
        np.testing.assert_array_equal(np.column_stack(code_counts(packed, selected)), expected)
        got = code_counts_torch(
            torch.from_numpy(packed).to(device), torch.from_numpy(selected).to(device)
        )
        np.testing.assert_array_equal(got.cpu().numpy(), expected)


@pytest.mark.parametrize("threads", [1, 3])
def test_read_packed__pread_into_a_buffer_equals_the_memory_map(
    cohort, monkeypatch, threads
) -> None:
    monkeypatch.setattr(plink, "PREAD_CHUNK_BYTES", 1000)  # many pieces per read
    with Genotypes(cohort["bfile"], threads=threads) as genotypes:
        whole = np.array(genotypes.read_packed(np.arange(N_VARIANTS)))
        for rows in [np.arange(17, 140), np.array([5, 3, 250]), np.arange(N_VARIANTS)]:
            out = np.full((rows.size, genotypes.bytes_per_variant), 7, dtype=np.uint8)
            assert genotypes.read_packed(rows, out=out) is out
            np.testing.assert_array_equal(out, whole[rows])
        with pytest.raises(ValueError, match="C-contiguous uint8"):
            genotypes.read_packed(np.arange(3), out=np.empty((3, 5), np.uint8))


# --- the torch pipeline against the numpy engine ----------------------------------


@pytest.mark.parametrize("fraction", [1.0, 0.8, 0.3])  # everyone, dense subset, gathered
@pytest.mark.parametrize(("dtype", "rtol"), [("float64", 1e-10), ("float32", 1e-4)])
def test_torch_pipeline_on_cpu__equals_the_numpy_engine(cohort, fraction, dtype, rtol) -> None:
    pheno_df = subset(cohort, fraction)
    dense = fraction >= DENSE_FRACTION
    assert dense == (fraction > 0.5)
    args = (cohort["bfile"], pheno_df, cohort["covar_df"])
    want = run_builtin_gwas(
        *args,
        settings=gwas_settings({"min_maf": 0, "min_mac": 0, "block_size": 100, "device": "cpu"}),
    )
    backend = Backend(dtype=dtype, use_torch=True)
    got = run_builtin_gwas(
        *args,
        backend=backend,
        settings=gwas_settings({"min_maf": 0, "min_mac": 0, "block_size": 64}),
    )
    assert len(want[1]) == N_VARIANTS - 1  # the monomorphic variant is dropped
    assert_tables_close(got, want, rtol)


@pytest.mark.parametrize("use_torch", [False, True])
def test_scan_builtin_gwas__reports_seconds_per_phase(cohort, use_torch) -> None:
    backend = Backend(dtype="float32", use_torch=use_torch)
    scan = scan_builtin_gwas(
        cohort["bfile"],
        subset(cohort, 1.0),
        cohort["covar_df"],
        backend=backend,
        settings=gwas_settings({"min_maf": 0, "min_mac": 0, "block_size": 64}),
    )
    reader = "reading .bed" if use_torch else "reading and decoding"
    main = ["waiting for reads", "queueing device work", "storing results"]
    main = main if use_torch else ["waiting for reads", "statistics"]
    assert set(scan.seconds) >= {"setup", "blocks", reader, *main}
    assert all(scan.seconds[k] > 0 for k in (reader, *main[1:]))
    # main-thread phases are disjoint parts of the blocks' wall time
    assert sum(scan.seconds[k] for k in main) <= scan.seconds["blocks"]


def test_numpy_float32__within_the_float64_engine(cohort) -> None:
    args = (cohort["bfile"], subset(cohort, 0.8), cohort["covar_df"])
    want = run_builtin_gwas(
        *args, settings=gwas_settings({"min_maf": 0, "min_mac": 0, "device": "cpu"})
    )
    got = run_builtin_gwas(
        *args,
        settings=gwas_settings({"min_maf": 0, "min_mac": 0, "device": "cpu", "dtype": "float32"}),
    )
    assert_tables_close(got, want, 1e-4)


@pytest.mark.parametrize("use_torch", [False, True])
def test_float32_scan__stores_float32_and_keeps_p_values_below_its_range(cohort, use_torch) -> None:
    """float32 scans keep BETA, SE, -log10 P in float32 (half the bytes to move); a P of
    ~1e-100 (below float32's range, outside Hill's) still equals the float64 engine's."""
    g = cohort["g"][:, 10]
    y = np.nan_to_num(g, nan=np.nanmean(g))
    y = y + np.random.default_rng(8).normal(scale=y.std(), size=(2, y.size))
    pheno_df = cohort["pheno_df"][["FID", "IID"]].assign(Y0=y[0], Y1=-y[1])
    args = (cohort["bfile"], pheno_df, cohort["covar_df"])
    backend = Backend(dtype="float32", use_torch=use_torch)
    scan = scan_builtin_gwas(
        *args,
        backend=backend,
        settings=gwas_settings({"min_maf": 0, "min_mac": 0, "block_size": 64}),
    )
    assert scan.beta.dtype == scan.se.dtype == scan.mlog10p.dtype == np.float32
    assert scan.chisq.dtype == scan.chisq_mlog10p.dtype == np.float64
    got = builtin_tables(scan)
    want = run_builtin_gwas(
        *args, settings=gwas_settings({"min_maf": 0, "min_mac": 0, "device": "cpu"})
    )
    assert_tables_close(got, want, 1e-4)
    hit = got[0][got[0]["ID"] == "rs10"]
    assert (hit["LOG10P"] > 50).all() and (hit["LOG10P"] < 300).all()
    np.testing.assert_allclose(-np.log10(hit["P"]), hit["LOG10P"], rtol=1e-6)


# --- CUDA ---------------------------------------------------------------------------


@needs_cuda
@pytest.mark.parametrize("fraction", [1.0, 0.8, 0.3])
def test_run_builtin_gwas__cuda_matches_cpu(cohort, fraction) -> None:
    args = (cohort["bfile"], subset(cohort, fraction), cohort["covar_df"])
    want = run_builtin_gwas(
        *args, settings=gwas_settings({"min_maf": 0, "min_mac": 0, "device": "cpu"})
    )
    got = run_builtin_gwas(
        *args,
        settings=gwas_settings({"min_maf": 0, "min_mac": 0, "device": "cuda", "block_size": 128}),
    )
    assert_tables_close(got, want, 1e-4)


@needs_cuda
def test_run_builtin_gwas__cuda_ignores_a_global_tf32_setting(cohort) -> None:
    """TF32 (10-bit mantissas) would cost ~1e-3; the engine forces IEEE float32."""
    args = (cohort["bfile"], cohort["pheno_df"], cohort["covar_df"])
    want = run_builtin_gwas(
        *args, settings=gwas_settings({"min_maf": 0, "min_mac": 0, "device": "cpu"})
    )
    old = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("high")
    try:
        got = run_builtin_gwas(
            *args, settings=gwas_settings({"min_maf": 0, "min_mac": 0, "device": "cuda"})
        )
    finally:
        torch.set_float32_matmul_precision(old)
    assert_tables_close(got, want, 1e-4)


def test_ieee_float32_matmul__overrides_a_global_tf32_setting_and_restores_it() -> None:
    old = torch.get_float32_matmul_precision()
    try:
        torch.set_float32_matmul_precision("high")  # TF32 allowed
        with ieee_float32_matmul():
            assert not torch.backends.cuda.matmul.allow_tf32
        assert torch.backends.cuda.matmul.allow_tf32
    finally:
        torch.set_float32_matmul_precision(old)
