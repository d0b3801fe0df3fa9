"""HTML cells of the report: number formatting, tables and notes.

Counts print as integers (``195``, ``0``); a count's mean over splits keeps one
decimal only when it is not whole. Other floats get ``decimals`` places, tiny ones
a×10^b; missing values print as :data:`MISSING`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

MISSING = "–"


class Html(str):
    """Text that is already HTML: inserted into tables without escaping."""


class Num(Html):
    """Already formatted numbers (HTML): right-aligned like plain numbers."""


def fmt(value: Any, decimals: int = 3) -> str:
    """A cell value as HTML: thousands separators, p-values as a×10^b, '–' for NA."""
    if isinstance(value, Html):
        return value
    if value is None or (isinstance(value, float | np.floating) and not math.isfinite(value)):
        return MISSING
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        return _fmt_float(float(value), decimals)
    return html.escape(str(value))


def _fmt_float(value: float, decimals: int) -> str:
    if value != 0 and abs(value) < 10.0**-decimals:
        mantissa, exponent = f"{value:.1e}".split("e")
        return f"{mantissa}×10<sup>{int(exponent)}</sup>".replace("-", "−")
    return f"{value:,.0f}".replace("-", "−") if abs(value) >= 1000 else _fixed(value, decimals)


def _fixed(value: float, decimals: int) -> str:
    """``value`` to ``decimals`` places with a true minus sign; :data:`MISSING` for NA."""
    if not math.isfinite(value):
        return MISSING
    return f"{value:.{decimals}f}".replace("-", "−")


def count(value: float) -> str:
    """A count or a count's mean or sd: whole numbers as integers, others to 0.1."""
    if not math.isfinite(value):
        return MISSING
    return f"{round(value):,}" if float(value).is_integer() else f"{value:,.1f}"


def mean_sd(mean: float, sd: float, n: int, decimals: int = 3) -> Num:
    """'mean ± sd' (just the mean when there is one split; '–' for NA)."""
    text = _fixed(mean, decimals)
    return Num(text if n < 2 else f"{text} ± {_fixed(sd, decimals)}")


def count_mean_sd(mean: float, sd: float, n: int) -> Num:
    """:func:`mean_sd` of a count, each number as :func:`count` prints it."""
    return Num(count(mean) if n < 2 else f"{count(mean)} ± {count(sd)}")


def table_html(df: pd.DataFrame, highlight: Iterable[int] = ()) -> str:
    """A table; numbers formatted and right-aligned, strings escaped, rows highlighted."""
    marked = set(highlight)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = []
    for i, values in enumerate(df.itertuples(index=False)):
        cells = "".join(_cell(v) for v in values)
        cls = ' class="highlight"' if i in marked else ""
        rows.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _cell(value: Any) -> str:
    numeric = isinstance(value, Num | int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )
    return f'<td class="num">{fmt(value)}</td>' if numeric else f"<td>{fmt(value)}</td>"


def note(text: str) -> str:
    """A highlighted remark, e.g. why a part is absent."""
    return f'<p class="note">{html.escape(text)}</p>'
