"""Sizes as people type them in forms ("10 GB", "500 MiB"), and back."""

from __future__ import annotations

import pytest

from portal.core.errors import InvalidInput
from portal.core.sizes import parse_size, size_text


@pytest.mark.parametrize(("text", "size"), [
    ("10 GB", 10 * 1000**3), ("500 MiB", 500 * 1024**2), ("1.5 TB", 1_500 * 1000**3), ("10gib", 10 * 1024**3),
    ("  2 kb ", 2000), ("3 KiB", 3072), ("7 B", 7), ("0 B", 0), ("1 TiB", 1024**4),
    ("１０　ＧＢ", 10 * 1000**3),  # full-width digits, letters and space, as a Chinese input method types them
    ("10\u3000MiB", 10 * 1024**2), ("0.5 KiB", 512),
])
def test_a_number_and_a_unit_are_read_in_either_base_ignoring_case(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "10", "GB", "ten GB", "10 XB", "-1 GB", "1,000 GB", "10 G B", "0.5 B",
                                  "1e3 MB", "9" * 50 + " B", None])
def test_anything_else_is_refused_with_a_message_naming_the_units(text):
    with pytest.raises(InvalidInput) as refused:
        parse_size(text)
    assert refused.value.code == "invalid_quota"
    assert "GB" in refused.value.message or "whole number of bytes" in refused.value.message


@pytest.mark.parametrize(("size", "text"), [
    (10 * 1024**3, "10 GiB"), (500 * 1000**2, "500 MB"), (1234, "1234 B"), (0, "0 B"), (1536 * 1024, "1536 KiB"),
    (1_500 * 1000**3, "1500 GB"), (2 * 1024**4, "2 TiB"),
])
def test_a_size_is_written_exactly_in_its_shortest_unit(size, text):
    assert size_text(size) == text
    assert parse_size(text) == size  # shown in a form and saved unchanged, it stays the same
