"""Sizes as people write them: "10 GB", "500 MiB", "1.5 TB", "10　gb".

Decimal units (KB, MB, GB, TB) are powers of 1000, binary ones (KiB, MiB,
GiB, TiB) powers of 1024; case does not matter, and full-width digits,
letters and spaces (as Chinese input methods type them) are read as their
ASCII forms. ``size_text`` writes a byte count back exactly, so a quota
shown in a form and saved unchanged stays the same number of bytes.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

from django.utils.translation import gettext

from portal.core.errors import InvalidInput

UNITS = {"B": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4,
         "KIB": 1024, "MIB": 1024**2, "GIB": 1024**3, "TIB": 1024**4}
_SPELLING = {"B": "B", "KB": "KB", "MB": "MB", "GB": "GB", "TB": "TB",
             "KIB": "KiB", "MIB": "MiB", "GIB": "GiB", "TIB": "TiB"}
_SIZE = re.compile(r"^(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[a-z]+)$", re.IGNORECASE | re.ASCII)


def parse_size(text, *, field: str = "quota") -> int:
    """Bytes for a size such as "10 GB"; a number needs its unit ("B" for bytes)."""
    raw = unicodedata.normalize("NFKC", str(text or "")).strip()
    match = _SIZE.match(raw) if len(raw) <= 40 else None
    unit = match and match["unit"].upper()
    if not match or unit not in UNITS:
        raise InvalidInput(gettext("Write the size as a number and a unit, for example “10 GB” or “500 MiB” "
                                   "(units: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)."),
                           code=f"invalid_{field}", detail={"field": field})
    size = Decimal(match["number"]) * UNITS[unit]
    if size != size.to_integral_value():
        raise InvalidInput(gettext("%(value)s is not a whole number of bytes; use a larger unit or fewer decimals.")
                           % {"value": raw}, code=f"invalid_{field}", detail={"field": field})
    return int(size)


def size_text(size: int) -> str:
    """The shortest exact way to write ``size`` bytes ("10 GiB", "500 MB", "1234 B")."""
    if size <= 0:
        return "0 B"
    exact = [(size // factor, unit) for unit, factor in UNITS.items() if size % factor == 0]
    count, unit = min(exact, key=lambda pair: (len(str(pair[0])), -UNITS[pair[1]]))
    return f"{count} {_SPELLING[unit]}"
