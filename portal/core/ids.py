"""Integers named in a URL, a query or a body fit the database's 64-bit columns.

PostgreSQL's ``bigint`` stops at 2**63 - 1; a larger number reaching a query
is a ``DataError`` (a 500), so it is refused where it enters: a path segment
(`<id:...>` in every urls.py) does not match, and the route answers 404; a body
or query integer fails validation, 400.
"""

from __future__ import annotations

from django.urls import register_converter

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)


class IdConverter:
    """``<id:name>``: a non-negative integer that fits a bigint; anything larger matches no route."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > INT64_MAX:
            raise ValueError(value)  # Django reads this as "this route does not match": 404
        return number

    def to_url(self, value) -> str:
        return str(int(value))


register_converter(IdConverter, "id")

# For the few re_path() routes (an optional trailing path): at most 18 digits is always below 2**63.
ID_RE = "[0-9]{1,18}"


def parse_int(raw, *, minimum: int = INT64_MIN, maximum: int = INT64_MAX) -> int:
    """``raw`` (a query value) as an int within the bounds; ValueError otherwise."""
    number = int(str(raw).strip())
    if not minimum <= number <= maximum:
        raise ValueError(raw)
    return number
