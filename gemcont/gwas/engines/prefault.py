"""Page in large output arrays in the background, before the code that fills them.

The first write to each page of fresh memory costs a page fault; in some virtual
machines (memory handed back to the host by free-page reporting) that runs at
~0.5 GB/s, so storing a GWAS's results can cost more than computing them. A thread
that asks the kernel to fault the pages in (``MADV_POPULATE_WRITE``, Linux >= 5.14:
pages are made present and writable, contents untouched) lets that cost overlap with
other work. Elsewhere, or where the kernel refuses, nothing happens.
"""

from __future__ import annotations

import ctypes
import mmap
import sys
import threading

import numpy as np

MADV_POPULATE_WRITE = 23  # <linux/mman.h>
MIN_BYTES = 1 << 22  # smaller arrays are not worth a system call


def _populate(arrays: list[np.ndarray]) -> None:
    libc = ctypes.CDLL(None, use_errno=True)  # the call releases the GIL
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    for array in arrays:
        start = -(-array.ctypes.data // mmap.PAGESIZE) * mmap.PAGESIZE  # whole pages inside
        end = (array.ctypes.data + array.nbytes) // mmap.PAGESIZE * mmap.PAGESIZE
        if end > start and libc.madvise(start, end - start, MADV_POPULATE_WRITE) != 0:
            return  # an older kernel: the first writes fault the pages in as usual


def prefault(arrays: list[np.ndarray]) -> threading.Thread | None:
    """Start faulting in the pages of the large C-contiguous ``arrays``; returns the
    thread to join (None where there is nothing to do). Freeing the arrays meanwhile is
    harmless: populating never changes contents, and a freed range is an error it stops
    at."""
    large = [a for a in arrays if a.nbytes >= MIN_BYTES and a.flags.c_contiguous]
    if not large or not sys.platform.startswith("linux"):
        return None
    thread = threading.Thread(target=_populate, args=(large,), name="prefault", daemon=True)
    thread.start()
    return thread
