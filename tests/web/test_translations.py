"""The Simplified Chinese catalogue is complete and its committed .mo matches the .po."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

LOCALE = Path(__file__).resolve().parents[2] / "locale" / "zh_Hans" / "LC_MESSAGES"


def _po_entries() -> dict[tuple[str | None, str], str]:
    """``(context, msgid) -> msgstr`` of every entry (context None when it has none)."""
    entries, text = {}, (LOCALE / "django.po").read_text(encoding="utf-8")
    for block in text.split("\n\n")[1:]:
        fields, current = {}, None
        for line in block.splitlines():
            if line.startswith("#"):
                continue
            match = re.match(r'(msgctxt|msgid|msgid_plural|msgstr(?:\[0\])?) "(.*)"$', line)
            if match:
                current = match.group(1)
                fields[current] = match.group(2)
            elif line.startswith('"') and current:
                fields[current] += line[1:-1]
        if fields.get("msgid"):
            entries[fields.get("msgctxt"), fields["msgid"]] = fields.get("msgstr", fields.get("msgstr[0]", ""))
    return entries


def test_every_message_has_a_chinese_translation_and_none_is_fuzzy():
    entries = _po_entries()
    assert len(entries) > 300
    assert [msgid for msgid, msgstr in entries.items() if not msgstr] == []
    assert "#, fuzzy" not in (LOCALE / "django.po").read_text(encoding="utf-8")


def test_the_compiled_catalogue_is_up_to_date_with_the_po_file():
    with open(LOCALE / "django.mo", "rb") as handle:
        catalogue = gettext.GNUTranslations(handle)
    compiled = catalogue._catalog  # msgid (or "context\x04msgid") -> msgstr; plurals keyed (msgid, n)
    for context, msgid in _po_entries():
        unescaped = msgid.replace('\\"', '"').replace("\\n", "\n")
        key = f"{context}\x04{unescaped}" if context else unescaped
        assert key in compiled or (key, 0) in compiled, f"not in django.mo: {msgid!r}"
