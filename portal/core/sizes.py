"""Sizes as people write them: "10 GB", "500 MiB", "1.5 TB", "10　gb".

KB, MB, GB and TB are read as the pages write sizes (Django's
``filesizeformat``, and the admin's quota form): powers of 1024, so a quota
typed as "20 GB" is shown as "20.0 GB". KiB, MiB, GiB and TiB say the same
explicitly. Case does not matter, and full-width digits, letters and spaces
(as Chinese input methods type them) are read as their ASCII forms.
``size_text`` writes a byte count back exactly, so a quota shown in a form
and saved unchanged stays the same number of bytes.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import gettext

from portal.core.errors import InvalidInput

_POWERS = {"B": 0, "KB": 1, "MB": 2, "GB": 3, "TB": 4, "KIB": 1, "MIB": 2, "GIB": 3, "TIB": 4}
_WRITTEN = ("B", "KB", "MB", "GB", "TB")  # as filesizeformat writes them
_SIZE = re.compile(r"^(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[a-z]+)$", re.IGNORECASE | re.ASCII)


def parse_size(text, *, field: str = "quota") -> int:
    """Bytes for a size such as "10 GB" (rounded to a whole byte); a number
    needs its unit ("B" for bytes)."""
    raw = unicodedata.normalize("NFKC", str(text or "")).strip()
    match = _SIZE.match(raw) if len(raw) <= 40 else None
    unit = match and match["unit"].upper()
    if not match or unit not in _POWERS:
        raise InvalidInput(gettext("Write the size as a number and a unit, for example “10 GB” or “500 MB” "
                                   "(units: B, KB, MB, GB, TB; KiB, MiB, GiB, TiB mean the same)."),
                           code=f"invalid_{field}", detail={"field": field})
    size = Decimal(match["number"]) * 1024 ** _POWERS[unit]
    return int(size.to_integral_value(rounding=ROUND_HALF_UP))


def size_text(size: int) -> str:
    """``size`` bytes in the largest unit that writes it exactly ("20 GB", "1536 MB", "1234 B")."""
    if size <= 0:
        return "0 B"
    for power in range(len(_WRITTEN) - 1, -1, -1):
        if size % 1024**power == 0:
            return f"{size // 1024**power} {_WRITTEN[power]}"
    return f"{size} B"  # pragma: no cover - power 0 always divides
