"""Chromosome codes of a genotype fileset, normalised once to the codes plink2 writes.

``1``..``22``, ``X``, ``Y``, ``XY`` and ``MT``: a ``chr``/``CHR``/``Chr`` prefix is
dropped and the PLINK numbers ``23``/``24``/``25``/``26`` and ``M`` become ``X``, ``Y``,
``XY``, ``MT`` (case-insensitive). Other numbers stay numbers (no leading zeros); any
other code is a contig name kept as written, when it matches :data:`CHROM_PATTERN`.
Every stage sees the normalised code (``.bim`` ``CHR``, the ``{chrom}`` wildcard,
``panel.tsv``); :func:`spellings` gives the raw codes a normalised one stands for, so a
per-chromosome job finds its lines in the raw .bim.
"""

from __future__ import annotations

import re

CHROM_PATTERN = r"[A-Za-z0-9_.]+"  # the {chrom} wildcard: whatever normalise() returns
PREFIXES = ("chr", "CHR", "Chr")
NAMED = {
    "X": ("X", "23"),
    "Y": ("Y", "24"),
    "XY": ("XY", "25"),
    "MT": ("MT", "M", "26"),
}
_BASES = {
    name: {s for a in aliases for s in (a, a.lower(), a.capitalize())}
    for name, aliases in NAMED.items()
}
_ALIASES = {base: name for name, bases in _BASES.items() for base in bases}
_NUMBER = re.compile(r"0|[1-9][0-9]*")


def normalise(code: str) -> str:
    """The normalised code of one raw chromosome code; ValueError (with the reason)
    when it cannot be one."""
    code = str(code)
    rest = code
    for prefix in PREFIXES:
        if code.startswith(prefix) and len(code) > len(prefix):
            rest = code[len(prefix) :]
            break
    if rest in _ALIASES:
        return _ALIASES[rest]
    if _NUMBER.fullmatch(rest):
        return rest
    if rest.isdigit():
        raise ValueError(f"chromosome code {code!r} has a leading zero (write {int(rest)})")
    if re.fullmatch(CHROM_PATTERN, code):
        return code  # a contig name, as written
    raise ValueError(
        f"chromosome code {code!r} is neither 1-26, X, Y, XY, MT (chr prefix allowed) nor "
        "a contig name of letters, digits, '_' and '.'"
    )


def normalise_published(code: str) -> str:
    """A published sumstats file's chromosome code as :func:`normalise` writes it, read
    leniently: any case of the names and leading zeros are accepted ('01', 'chrx'), and
    a code that is none of the known ones is kept as written (it then matches no .bim
    line and is reported as absent by the harmonisation)."""
    code = str(code).strip()
    rest = code[3:] if code[:3].upper() == "CHR" and len(code) > 3 else code
    if rest.isdigit():
        rest = rest.lstrip("0") or "0"
    return _ALIASES.get(rest.upper(), rest if _NUMBER.fullmatch(rest) else code)


def sort_key(chrom: str) -> tuple[int, int, str]:
    """Order of normalised codes: numbers (1, 2, ..., 22, 23, ...), then X, Y, XY, MT,
    then contig names by name."""
    if chrom.isdigit():
        return 0, int(chrom), ""
    if chrom in NAMED:
        return 1, list(NAMED).index(chrom), ""
    return 2, 0, chrom


def spellings(chrom: str) -> tuple[str, ...]:
    """Every raw code that :func:`normalise` turns into ``chrom``."""
    if chrom in NAMED:
        bases = _BASES[chrom]
    elif _NUMBER.fullmatch(chrom):
        bases = {chrom}
    else:
        return (chrom,)
    return tuple(sorted({p + b for p in ("", *PREFIXES) for b in bases}))
