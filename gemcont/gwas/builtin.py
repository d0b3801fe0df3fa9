"""Transitional: the kernel names that ``gemcont/rotation/score.py`` imports from here
(owned by another part of issue 14). Import them from :mod:`gemcont.gwas.kernel`; delete
this module once that import is updated."""

from gemcont.gwas.kernel import Backend, null_model, scan_block

__all__ = ["Backend", "null_model", "scan_block"]
