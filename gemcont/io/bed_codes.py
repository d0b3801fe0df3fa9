"""The 2-bit genotype codes of a PLINK 1 .bed, and arithmetic on packed .bed bytes.

A .bed byte holds four samples, first sample in the lowest 2 bits: 00 = A1/A1,
01 = missing, 10 = A1/A2, 11 = A2/A2 (A1, the counted allele, as in
:mod:`gemcont.io.plink`). Here, with numpy alone: the byte -> A1 counts table that
:meth:`gemcont.io.plink.Genotypes.read_int8` decodes with, :func:`pack_bed` (dosages
to bytes) and :func:`code_counts` (genotype counts by popcount); with torch on any
device: :func:`unpack_bed_torch` / :func:`decode_bed_torch` (bytes to dosages) and
:func:`code_counts_torch`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

MISSING_INT8 = -127  # missing genotype in int8 dosages (as bed-reader)
BED_MAGIC = bytes([0x6C, 0x1B, 0x01])  # PLINK 1 .bed, variant-major
COUNT_CHUNK_BYTES = 1 << 18  # .bed bytes counted at a time by code_counts

# BYTE_TO_A1[b] are the four A1 counts of byte b, packed as one int32 word so that
# decoding is one 4-byte gather per byte.
_CODE_TO_A1 = np.array([2, MISSING_INT8, 1, 0], dtype=np.int8)
BYTE_CODES = (np.arange(256)[:, None] >> np.arange(0, 8, 2)) & 3  # byte -> its 4 codes
BYTE_TO_A1 = np.ascontiguousarray(_CODE_TO_A1[BYTE_CODES]).view(np.int32)[:, 0]
CODE_A1 = (2.0, float("nan"), 1.0, 0.0)  # A1 count of codes 00, 01, 10, 11 (NaN: missing)


def check_index(index: np.ndarray, size: int, what: str) -> np.ndarray:
    """``index`` (row numbers or a boolean mask) as a 1-D intp array in [0, size)."""
    index = np.asarray(index).reshape(-1)
    index = np.flatnonzero(index) if index.dtype == bool else index.astype(np.intp, copy=False)
    if index.size and (index.min() < 0 or index.max() >= size):
        raise IndexError(f"{what} index out of range [0, {size})")
    return index


def pack_bed(dosages: np.ndarray) -> np.ndarray:
    """samples x variants A1 dosages (0, 1, 2; NaN = missing) as .bed rows (variants x bytes)."""
    n, m = dosages.shape
    d = np.asarray(dosages).T
    known = np.isnan(d) | (d == 0) | (d == 1) | (d == 2)
    if not known.all():
        raise ValueError("dosages must be 0, 1, 2 or NaN to be written as a .bed")
    codes = np.zeros((m, 4 * ((n + 3) // 4)), dtype=np.uint8)  # padding: 00
    codes[:, :n] = np.select([d == 2, d == 1, d == 0], [0, 2, 3], 1)  # 1: missing
    shifts = np.arange(0, 8, 2, dtype=np.uint8)
    return (codes.reshape(m, -1, 4) << shifts).sum(axis=2, dtype=np.uint8)


def selection_bits(n_samples: int, samples: np.ndarray | None = None) -> np.ndarray:
    """Per .bed byte of a variant, a mask with bit 2k set where sample 4j+k is selected.

    ``samples``: .fam rows (None = everyone); padding samples past ``n_samples`` are
    never selected. uint8, length ``(n_samples + 3) // 4``, for :func:`code_counts`.
    """
    chosen = np.zeros(4 * ((n_samples + 3) // 4), dtype=np.uint8)
    chosen[:n_samples] = 1 if samples is None else 0
    if samples is not None:
        chosen[check_index(samples, n_samples, "sample")] = 1
    return (chosen.reshape(-1, 4) << np.arange(0, 8, 2, dtype=np.uint8)).sum(1, dtype=np.uint8)


def code_counts(
    packed: np.ndarray, selected: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Heterozygous, A1/A1 and missing calls per variant among the selected samples.

    packed: variants x bytes .bed rows (:meth:`Genotypes.read_packed`); selected: from
    :func:`selection_bits`. Counted 64 samples at a time by popcount on 64-bit words:
    with lo/hi the low/high bit of each 2-bit code, missing (01) = lo - lo&hi,
    heterozygous (10) = hi - lo&hi, A2/A2 (11) = lo&hi, A1/A1 (00) the rest.
    Returns three int64 arrays (het, a1a1, missing).
    """
    n_var, n_bytes = packed.shape
    width = -(-n_bytes // 8) * 8
    mask = np.zeros(width, dtype=np.uint8)
    mask[:n_bytes] = selected
    mask = mask.view(np.uint64)
    n_selected = int(_popcount_rows(mask[None, :])[0])
    counts = np.empty((3, n_var), dtype=np.int64)  # lo, hi, lo & hi
    step = max(1, COUNT_CHUNK_BYTES // width)  # cache-sized temporaries
    words = np.zeros((min(step, n_var), width), dtype=np.uint8)
    for start in range(0, n_var, step):
        part = packed[start : start + step]
        rows = words[: part.shape[0]]
        rows[:, :n_bytes] = part
        lo = rows.view(np.uint64) & mask
        hi = (rows.view(np.uint64) >> np.uint64(1)) & mask
        out = counts[:, start : start + step]
        out[0], out[1] = _popcount_rows(lo), _popcount_rows(hi)
        out[2] = _popcount_rows(np.bitwise_and(lo, hi, out=lo))
    n_lo, n_hi, n_both = counts
    missing, het = n_lo - n_both, n_hi - n_both
    return het, n_selected - n_lo - het, missing


_POPCOUNT8 = np.array([bin(b).count("1") for b in range(256)], dtype=np.uint8)


def _popcount_rows(words: np.ndarray) -> np.ndarray:
    """Set bits per row of a 2-D uint64 array (int64)."""
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        return np.bitwise_count(words).sum(axis=1, dtype=np.int64)
    return _POPCOUNT8[words.view(np.uint8)].sum(axis=1, dtype=np.int64)


def _on_device(name: str, table: np.ndarray, device: Any) -> Any:
    """A constant numpy table as a torch tensor on ``device``, copied there once."""
    import torch

    key = (name, str(device))
    if key not in _DEVICE_TABLES:  # a copy per call would stall the CUDA pipeline
        _DEVICE_TABLES[key] = torch.as_tensor(table, device=device)
    return _DEVICE_TABLES[key]


_DEVICE_TABLES: dict[tuple[str, str], Any] = {}


def unpack_bed_torch(packed, values):  # (torch.Tensor, torch.Tensor) -> torch.Tensor
    """Dosages from .bed bytes on the bytes' torch device: one table lookup per byte.

    packed: variants x bytes uint8 tensor (:meth:`Genotypes.read_packed`); values: the
    value of each 2-bit code (00 A1/A1, 01 missing, 10 het, 11 A2/A2), shape (4,) for
    all variants or variants x 4 for one set per variant (e.g. centred, missing
    imputed). Returns variants x 4·bytes in ``values``' dtype: every sample of every
    byte, padding samples included (slice ``[:, :n_samples]`` to drop them).
    """
    import torch
    from torch.nn.functional import embedding

    codes = _on_device("byte_codes", BYTE_CODES, packed.device)
    index = packed.to(torch.int32)
    if values.ndim == 1:
        table = values[codes]  # 256 x 4
    else:  # row v of the table for variant v: index byte + 256 v
        table = values[:, codes].reshape(-1, 4)  # (variants · 256) x 4
        offsets = torch.arange(packed.shape[0], dtype=torch.int32, device=packed.device)
        index += (offsets * 256)[:, None]
    return embedding(index, table).reshape(packed.shape[0], -1)


def decode_bed_torch(packed, n_samples: int, dtype=None):  # -> torch.Tensor
    """A1 dosages (NaN = missing), variants x samples, from .bed bytes on their device.

    The torch counterpart of :meth:`Genotypes.read` (transposed): same values as
    bed-reader with ``count_A1=True``. dtype: a torch floating dtype (float32 default).
    """
    import torch

    values = torch.tensor(CODE_A1, dtype=dtype or torch.float32, device=packed.device)
    return unpack_bed_torch(packed, values)[:, :n_samples]


def code_counts_torch(packed, selected):  # (torch.Tensor, torch.Tensor) -> torch.Tensor
    """:func:`code_counts` on a torch device: variants x 3 int64 (het, A1/A1, missing).

    One lookup per byte in a table of the three counts packed in 21-bit fields of an
    int64, indexed by the byte and its 4-bit sample selection (``selected`` from
    :func:`selection_bits`, a uint8 tensor on the same device), then one sum per
    variant: memory-bound, no per-variant loop. Fields hold up to 2,097,151 samples.
    """
    import torch

    table = _on_device("code_counts", _COUNT_TABLE, packed.device)
    nibble = (selected & 1) | ((selected >> 1) & 2) | ((selected >> 2) & 4) | ((selected >> 3) & 8)
    index = packed.to(torch.int32)
    index += nibble.to(torch.int32) * 256
    total = table.index_select(0, index.reshape(-1)).reshape(index.shape).sum(dim=1)
    mask = (1 << COUNT_FIELD_BITS) - 1
    return torch.stack([(total >> (COUNT_FIELD_BITS * k)) & mask for k in range(3)], dim=1)


COUNT_FIELD_BITS = 21


def _count_table() -> np.ndarray:
    """(4-bit selection, byte) -> het + A1/A1 << 21 + missing << 42 among the selected
    samples, at 256·selection + byte (int64)."""
    sel = (np.arange(16)[:, None] >> np.arange(4)) & 1  # 16 x 4
    table = np.zeros((16, 256), dtype=np.int64)
    for field, code in enumerate((2, 0, 1)):  # het (10), A1/A1 (00), missing (01)
        hits = (sel[:, None, :] * (BYTE_CODES[None] == code)).sum(-1)
        table += hits.astype(np.int64) << (COUNT_FIELD_BITS * field)
    return table.reshape(-1)


_COUNT_TABLE = _count_table()
