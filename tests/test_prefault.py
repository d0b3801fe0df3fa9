"""Background page faulting of large output arrays (gemcont.gwas.engines.prefault)."""

from __future__ import annotations

import os
import re
import sys

import numpy as np
import pytest

from gemcont.gwas.engines.prefault import MIN_BYTES, prefault

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")
KERNEL = tuple(int(x) for x in re.findall(r"\d+", os.uname().release)[:2])
populates = pytest.mark.skipif(
    not sys.platform.startswith("linux") or KERNEL < (5, 14),
    reason="MADV_POPULATE_WRITE needs Linux 5.14",
)


def resident_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4096


@populates
def test_prefault__makes_the_pages_resident() -> None:
    array = np.empty(64 << 20, dtype=np.uint8)  # fresh: no page present yet
    before = resident_bytes()
    thread = prefault([array])
    assert thread is not None
    thread.join()
    assert resident_bytes() - before >= (60 << 20)


@linux
def test_prefault__leaves_the_contents_alone() -> None:
    array = np.arange(MIN_BYTES // 4, dtype=np.float32).reshape(-1, 16)
    thread = prefault([array, array[:, :3]])  # the strided view is left out
    assert thread is not None
    thread.join()
    np.testing.assert_array_equal(array.reshape(-1), np.arange(array.size, dtype=np.float32))


def test_prefault__nothing_to_do_for_small_arrays() -> None:
    assert prefault([np.empty(MIN_BYTES - 1, np.uint8)]) is None
