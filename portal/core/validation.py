"""Checks shared by services: names people type."""

from __future__ import annotations

import unicodedata
from django.utils.translation import gettext

from portal.core.errors import InvalidInput


def clean_label(value, *, field: str, max_length: int) -> str:
    """A human-facing name: a string, trimmed, NFC, 1..max_length characters,
    no control characters."""
    if not isinstance(value, str):
        raise InvalidInput(gettext("%(field)s must be text.") % {"field": field}, detail={"field": field})
    value = unicodedata.normalize("NFC", value.strip())
    if not value:
        raise InvalidInput(gettext("%(field)s cannot be empty.") % {"field": field}, detail={"field": field})
    if len(value) > max_length:
        raise InvalidInput(gettext("%(field)s is too long (%(count)s characters; at most %(max_length)s).") % {"field": field, "count": len(value), "max_length": max_length},
                           detail={"field": field, "max_length": max_length})
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in value):
        raise InvalidInput(gettext("%(field)s cannot contain control characters.") % {"field": field}, detail={"field": field})
    return value


def whole_number(value, *, field: str, minimum: int | None = None, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(gettext("%(field)s must be a whole number.") % {"field": field}, detail={"field": field})
    if minimum is not None and value < minimum:
        raise InvalidInput(gettext("%(field)s must be at least %(minimum)s.") % {"field": field, "minimum": minimum}, detail={"field": field, "minimum": minimum})
    if maximum is not None and value > maximum:
        raise InvalidInput(gettext("%(field)s must be at most %(maximum)s.") % {"field": field, "maximum": maximum}, detail={"field": field, "maximum": maximum})
    return value
