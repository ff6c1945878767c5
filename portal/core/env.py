"""Read settings from ``PORTAL_*`` environment variables.

Every helper takes the name without the ``PORTAL_`` prefix and a default, and
fails with a message naming the variable when a value cannot be parsed.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

PREFIX = "PORTAL_"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(PREFIX + name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(PREFIX + name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{PREFIX}{name}={raw!r} is not a boolean; use 1/0, true/false, yes/no or on/off.")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(PREFIX + name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{PREFIX}{name}={raw!r} is not a whole number.") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(PREFIX + name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_secret(name: str, file_default: Path) -> str:
    """A secret from ``PORTAL_<name>``, else from the file ``PORTAL_<name>_FILE``
    (default ``file_default``, which the embedded run writes on first start)."""
    value = os.environ.get(PREFIX + name, "").strip()
    if value:
        return value
    path = Path(os.environ.get(PREFIX + name + "_FILE", str(file_default)))
    if path.is_file():
        return path.read_text().strip()
    return ""
