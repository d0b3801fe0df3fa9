"""Process pools that work from Snakemake ``script:`` files."""

from __future__ import annotations

import multiprocessing
import sys
from multiprocessing.context import BaseContext


def pool_context() -> BaseContext:
    """'fork' on Linux (works from unguarded scripts such as Snakemake ``script:`` files),
    else 'spawn' (workers must then be top-level functions)."""
    return multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
