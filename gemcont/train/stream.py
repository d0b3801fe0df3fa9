"""Phenotype rows to host buffers, read ahead of the model by reader threads.

Training (when its data exceed ``train.on_device_max_gb``) and embedding export read
each batch from the store's file (:class:`gemcont.phenotypes.store.StoreRows`: reads in
ascending row order, each row written to its place in the batch) into a pinned host
buffer when the model runs on CUDA, so the copy to the device is asynchronous. Reads
release the GIL, so ``threads`` reader threads keep up to ``threads + 1`` batches in
flight while the model works on the current one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import numpy as np
import torch

from gemcont.phenotypes.store import StoreRows

T = TypeVar("T")
R = TypeVar("R")

Pheno = np.ndarray | StoreRows
"""Phenotype items: an array (in memory or memory-mapped) or rows of a store's file."""


def host_rows(pheno: Pheno, positions: np.ndarray, pin: bool) -> torch.Tensor:
    """The items at ``positions`` of ``pheno`` as a host tensor (pinned when ``pin``),
    read in ascending order and placed in the order of ``positions``."""
    positions = np.asarray(positions, np.int64)
    x_t = torch.empty((len(positions), *pheno.shape[1:]), dtype=torch.uint8, pin_memory=pin)
    out = x_t.numpy()
    if isinstance(pheno, StoreRows):
        pheno.read(positions, out)
    else:
        order = np.argsort(positions, kind="stable")
        out[order] = pheno[positions[order]]
    return x_t


def host_values(values: np.ndarray, positions: np.ndarray, pin: bool) -> torch.Tensor:
    """``values[positions]`` (float32, in memory) as a host tensor, pinned when ``pin``."""
    t = torch.from_numpy(np.ascontiguousarray(values[positions], np.float32))
    return t.pin_memory() if pin else t


def all_rows(pheno: Pheno) -> np.ndarray:
    """Every item of ``pheno`` as one C-contiguous array in memory."""
    if isinstance(pheno, StoreRows):
        return pheno.read()
    return np.require(pheno, requirements=["C"])


def prefetched(read: Callable[[T], R], items: Iterable[T], threads: int) -> Iterator[R]:
    """``read(item)`` of every item, in order; with ``threads`` > 0 a pool of that many
    reader threads keeps up to ``threads + 1`` items read ahead of the consumer."""
    if threads <= 0:
        yield from map(read, items)
        return
    with ThreadPoolExecutor(threads, thread_name_prefix="gemcont-reader") as pool:
        pending: deque[Future[R]] = deque()
        try:
            for item in items:
                pending.append(pool.submit(read, item))
                if len(pending) > threads:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:  # the consumer stopped early: drop what is not started
            for future in pending:
                future.cancel()
