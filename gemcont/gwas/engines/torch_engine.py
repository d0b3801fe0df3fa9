"""The built-in scan's torch pipeline (CUDA, or the CPU for tests).

Only the raw .bed bytes leave the host (read by ``pread`` into pinned memory, copied on
a side stream); counting, decoding straight to centred imputed float32 (one table
lookup per byte, :func:`gemcont.io.bed_codes.unpack_bed_torch`), the product (IEEE
float32, TF32 off) and the per-dimension statistics (float64, -log10 P included) all
run on the device; results come back through pinned buffers while the device works on
the next block. Expect ~1e-6 relative differences from the float64 CPU numbers.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, nullcontext
from typing import Any

import numpy as np

from gemcont.gwas.engines.streaming import ScanInputs, ScanResults
from gemcont.gwas.kernel import (
    COLLINEAR_TOL,
    PER_DIM_KEYS,
    NullModel,
    block_stats,
    centred_sum_of_squares,
    counts_from_codes,
)
from gemcont.io.bed_codes import code_counts_torch, selection_bits, unpack_bed_torch

# decode every .fam sample (zero basis rows for the others) when at least this fraction
# is analysed, else decode all and gather the analysed ones
DENSE_FRACTION = 0.7


@contextmanager
def ieee_float32_matmul() -> Iterator[None]:
    """CUDA float32 products in IEEE float32 (no TF32) within, whatever the global setting.

    Through the global setter, which keeps torch's legacy and per-backend (>= 2.9) flags
    consistent (mixing them raises); the per-backend flag where only that one was set.
    """
    import torch

    try:
        old = torch.get_float32_matmul_precision()
    except RuntimeError:  # only torch.backends.cuda.matmul.fp32_precision was set
        matmul = torch.backends.cuda.matmul
        old = matmul.fp32_precision
        matmul.fp32_precision = "ieee"
        try:
            yield
        finally:
            matmul.fp32_precision = old
        return
    torch.set_float32_matmul_precision("highest")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(old)


class TorchEngine:
    """Blocks of .bim rows scored with torch into ``results`` (see
    :class:`gemcont.gwas.engines.streaming.Engine`).

    The background thread reads block i + 1 into one of two pinned buffers and copies
    it on a side stream while block i is scored; block i's results go, on another side
    stream, to one of two pinned result buffers, and are copied into ``results`` on the
    host (:meth:`finish`) while block i + 1 runs on the device.
    """

    def __init__(self, scan: ScanInputs) -> None:
        genotypes, blocks, samples = scan.genotypes, scan.blocks, scan.samples
        backend = scan.backend
        import torch

        self.genotypes, self.blocks, self.results = genotypes, blocks, scan.results
        self.timings = scan.timings
        self.device = device = torch.device(backend.device)
        self.cuda = device.type == "cuda"
        self.dtype = getattr(torch, backend.dtype)
        n_fam, width = genotypes.n_samples, genotypes.bytes_per_variant
        self.n = n_fam if samples is None else samples.size
        self.tol = COLLINEAR_TOL[backend.dtype]
        self.selected = torch.as_tensor(selection_bits(n_fam, samples), device=device)
        if samples is None:
            self.rows_of = torch.arange(n_fam, device=device)
        else:
            self.rows_of = torch.as_tensor(samples, device=device)
        self.dense = self.n >= DENSE_FRACTION * n_fam
        size = max(b.size for b in blocks)
        self.groups = [self._group(model, size, 4 * width) for model in scan.models]
        self.packed_host = [self._host(size, width, kind=torch.uint8) for _ in range(2)]
        self.copied: list[Any] = [None, None]  # event: last copy out of packed_host[slot]
        self.read_stream = torch.cuda.Stream(device) if self.cuda else None
        self.results_stream = torch.cuda.Stream(device) if self.cuda else None
        self._stack = ExitStack()
        self.copiers: ThreadPoolExecutor | None = None

    def _group(self, model: NullModel, size: int, decoded: int) -> dict[str, Any]:
        """One phenotype group's null model on the device and its two pinned staging
        buffers (per block: statistics, then counts)."""
        import torch

        device, dtype = self.device, self.dtype
        if self.dense:  # all decoded samples, zero rows for those not analysed
            basis = torch.zeros((decoded, model.basis.shape[1]), dtype=dtype, device=device)
            basis[self.rows_of] = model.basis
        else:
            basis = model.basis  # samples x (D + c + 1)
        d = model.c_inv.shape[0]
        staging = [
            {
                **{k: self._host(size, d, kind=dtype) for k in PER_DIM_KEYS},
                "chisq": self._host(size, kind=torch.float64),
                "counts": self._host(size, 3, kind=torch.int64),
            }
            for _ in range(2)
        ]
        return {
            "basis": basis,
            "yty": torch.as_tensor(model.yty, dtype=torch.float64, device=device),
            "c_inv": torch.as_tensor(model.c_inv, dtype=torch.float64, device=device),
            "dof": model.residualizer.dof,
            "staging": staging,
        }

    def _host(self, *shape: int, kind: Any) -> Any:
        import torch

        return torch.empty(shape, dtype=kind, pin_memory=self.cuda)

    def __enter__(self) -> TorchEngine:
        import torch

        self._stack.enter_context(ieee_float32_matmul() if self.cuda else nullcontext())
        self._stack.enter_context(torch.no_grad())
        self.copiers = self._stack.enter_context(ThreadPoolExecutor(len(PER_DIM_KEYS) + 1))
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def load(self, i: int) -> tuple[Any, Any]:
        """Block i's .bed bytes (variants x bytes) on the device, and the event that
        marks their copy done (None on the CPU)."""
        import torch

        rows, slot = self.blocks[i], i % 2
        if self.copied[slot] is not None:
            self.copied[slot].synchronize()
        host = self.packed_host[slot][: rows.size]
        with self.timings.phase("reading .bed"):
            self.genotypes.read_packed(rows, out=host.numpy())
        if not self.cuda:
            return host.clone(), None
        with torch.cuda.stream(self.read_stream):
            packed = host.to(self.device, non_blocking=True)
            self.copied[slot] = torch.cuda.Event()
            self.copied[slot].record(self.read_stream)
        return packed, self.copied[slot]

    def score(self, loaded: tuple[Any, Any], i: int, lo: int) -> tuple:
        """Queue block i's statistics and their copy into pinned staging buffers."""
        import torch

        packed, ready = loaded
        if self.cuda:
            current = torch.cuda.current_stream(self.device)
            current.wait_event(ready)
            packed.record_stream(current)  # allocated on the side stream
        with self.timings.phase("queueing device work"):
            return (lo, *self._queue(packed, i % 2))

    def _queue(self, packed: Any, slot: int) -> tuple[list[dict[str, np.ndarray]], Any]:
        """Decode the block once, then per group its product and statistics (a product
        per group: a group's numbers do not depend on the others), copied to the
        group's staging buffers."""
        import torch

        counts = code_counts_torch(packed, self.selected)  # variants x 3
        het, a1a1, missing = counts.unbind(1)
        n_obs = self.n - missing
        a1 = het + 2 * a1a1
        mean = a1.double() / n_obs
        css = centred_sum_of_squares(n_obs, a1, het + 4 * a1a1)
        centred = torch.stack([2.0 - mean, torch.zeros_like(mean), 1.0 - mean, -mean], 1)
        g = unpack_bed_torch(packed, centred.to(self.dtype))  # variants x 4·width
        if not self.dense:
            g = g.index_select(1, self.rows_of)
        stats = []
        for group in self.groups:
            product = (g @ group["basis"]).double()
            got = block_stats(product, css, group["yty"], group["c_inv"], group["dof"], self.tol)
            got.update({k: got[k].to(self.dtype) for k in PER_DIM_KEYS}, counts=counts)
            stats.append(got)
        outs = [
            {k: v[: packed.shape[0]] for k, v in group["staging"][slot].items()}
            for group in self.groups
        ]
        if not self.cuda:
            for got, out in zip(stats, outs, strict=True):
                for k, v in got.items():
                    out[k].copy_(v)
            return [{k: v.numpy() for k, v in out.items()} for out in outs], None
        computed = torch.cuda.Event()
        computed.record()
        with torch.cuda.stream(self.results_stream):  # the next block computes meanwhile
            self.results_stream.wait_event(computed)
            for got, out in zip(stats, outs, strict=True):
                for k, v in got.items():
                    v.record_stream(self.results_stream)  # allocated on the compute stream
                    out[k].copy_(v, non_blocking=True)
            done = torch.cuda.Event()
            done.record(self.results_stream)
        return [{k: v.numpy() for k, v in out.items()} for out in outs], done

    def finish(self, scored: tuple[int, list[dict[str, np.ndarray]], Any]) -> int:
        """Copy a scored block out of its staging buffers into each group's results."""
        lo, hosts, done = scored
        if done is not None:
            with self.timings.phase("waiting for the device"):
                done.synchronize()
        hi = lo + hosts[0]["chisq"].size
        with self.timings.phase("storing results"):
            counts = counts_from_codes(*hosts[0]["counts"].T, self.n)
            for group, host, results in zip(self.groups, hosts, self.results, strict=True):

                def copy(key: str, host: dict = host, results: ScanResults = results) -> None:
                    results.arrays[key][lo:hi] = host[key]

                list(self.copiers.map(copy, (*PER_DIM_KEYS, "chisq")))  # in parallel
                results.store(lo, counts, group["dof"])
        return hi - lo
