"""Checks shared by services: names people type."""

from __future__ import annotations

import unicodedata

from portal.core.errors import InvalidInput


def clean_label(value, *, field: str, max_length: int) -> str:
    """A human-facing name: a string, trimmed, NFC, 1..max_length characters,
    no control characters."""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be text.", detail={"field": field})
    value = unicodedata.normalize("NFC", value.strip())
    if not value:
        raise InvalidInput(f"{field} cannot be empty.", detail={"field": field})
    if len(value) > max_length:
        raise InvalidInput(f"{field} is too long ({len(value)} characters; at most {max_length}).",
                           detail={"field": field, "max_length": max_length})
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in value):
        raise InvalidInput(f"{field} cannot contain control characters.", detail={"field": field})
    return value


def whole_number(value, *, field: str, minimum: int | None = None, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{field} must be a whole number.", detail={"field": field})
    if minimum is not None and value < minimum:
        raise InvalidInput(f"{field} must be at least {minimum}.", detail={"field": field, "minimum": minimum})
    if maximum is not None and value > maximum:
        raise InvalidInput(f"{field} must be at most {maximum}.", detail={"field": field, "maximum": maximum})
    return value
