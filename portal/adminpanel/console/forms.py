"""Reading the console's form fields into what the services take."""

from __future__ import annotations

from django.utils.translation import gettext

from portal.core.errors import InvalidInput
from portal.core.sizes import parse_size


def text(data, name: str, *, required: bool = True, label: str | None = None) -> str:
    value = (data.get(name) or "").strip()
    if required and not value:
        raise InvalidInput(gettext("Fill in %(field)s.") % {"field": label or name}, code=f"invalid_{name}",
                           detail={"field": name})
    return value


def checked(data, name: str) -> bool:
    return data.get(name) in ("on", "1", "true", "yes")


def size(data, name: str, *, required: bool = True) -> int | None:
    """Bytes for a size typed as "5 GiB" or "500 MB"; blank is None unless required."""
    raw = (data.get(name) or "").strip()
    if not raw and not required:
        return None
    return parse_size(raw, field=name)


def page_number(data) -> int:
    try:
        return max(1, int(data.get("page") or 1))
    except ValueError:
        return 1
