"""Serializer fields shared by every API module."""

from __future__ import annotations

from rest_framework import serializers

from portal.core.ids import INT64_MAX, INT64_MIN


class Int64Field(serializers.IntegerField):
    """An integer that fits a 64-bit column: without a narrower bound of its own, a value past
    ±2**63 is a 400 at validation, never a database error (a 500) further down."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_value", INT64_MAX)
        kwargs.setdefault("min_value", INT64_MIN)
        super().__init__(**kwargs)
