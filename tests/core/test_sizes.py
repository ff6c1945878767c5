"""Sizes as people type them in forms ("10 GB", "500 MiB"), and back; the
units mean what the pages show (filesizeformat: powers of 1024)."""

from __future__ import annotations

import pytest
from django.template.defaultfilters import filesizeformat

from portal.core.errors import InvalidInput
from portal.core.sizes import parse_size, size_text

GiB = 1024**3


@pytest.mark.parametrize(("text", "size"), [
    ("10 GB", 10 * GiB), ("500 MiB", 500 * 1024**2), ("1.5 TB", 1536 * GiB), ("10gib", 10 * GiB),
    ("  2 kb ", 2048), ("3 KiB", 3072), ("7 B", 7), ("0 B", 0), ("1 TiB", 1024**4), ("0.1 KB", 102),
    ("１０　ＧＢ", 10 * GiB),  # full-width digits, letters and space, as a Chinese input method types them
    ("10\u3000MB", 10 * 1024**2), ("0.5 KiB", 512),
])
def test_a_number_and_a_unit_are_read_ignoring_case_and_width(text, size):
    assert parse_size(text) == size


def test_a_typed_size_is_shown_back_as_typed_by_the_pages():
    assert filesizeformat(parse_size("20 GB")) == "20.0\xa0GB"


@pytest.mark.parametrize("text", ["", "10", "GB", "ten GB", "10 XB", "-1 GB", "1,000 GB", "10 G B", "1e3 MB",
                                  "9" * 50 + " B", "10 GB of space", None])
def test_anything_else_is_refused_with_a_message_naming_the_units(text):
    with pytest.raises(InvalidInput) as refused:
        parse_size(text)
    assert refused.value.code == "invalid_quota" and "GB" in refused.value.message


@pytest.mark.parametrize(("size", "text"), [
    (10 * GiB, "10 GB"), (500 * 1024**2, "500 MB"), (1234, "1234 B"), (0, "0 B"), (1536 * 1024, "1536 KB"),
    (1536 * GiB, "1536 GB"), (2 * 1024**4, "2 TB"), (10**10, "9765625 KB"),
])
def test_a_size_is_written_exactly_in_its_largest_whole_unit(size, text):
    assert size_text(size) == text
    assert parse_size(text) == size  # shown in a form and saved unchanged, it stays the same
