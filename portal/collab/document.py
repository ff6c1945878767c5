"""The Yjs document behind a co-edited file: one shared text named ``content``.

Pure functions over pycrdt: the seed update made from a file's text, the
text a list of stored updates adds up to, and those updates merged into one.
"""

from __future__ import annotations

from collections.abc import Iterable

from pycrdt import Doc, Text, merge_updates

TEXT_NAME = "content"


def text_of_doc(doc: Doc) -> str:
    return str(doc.get(TEXT_NAME, type=Text))


def seed_update(text: str) -> bytes:
    """The first update of a session: the file's text, inserted by the server."""
    doc = Doc()
    doc.get(TEXT_NAME, type=Text).insert(0, text)
    return doc.get_update()


def doc_from(updates: Iterable[bytes]) -> Doc:
    doc = Doc()
    doc.get(TEXT_NAME, type=Text)  # the root type exists before any update arrives
    for update in updates:
        doc.apply_update(update)
    return doc


def text_from(updates: Iterable[bytes]) -> str:
    return text_of_doc(doc_from(updates))


def merged(updates: list[bytes]) -> bytes:
    """One update equivalent to all of them (for compacting a session's log)."""
    return merge_updates(*updates) if len(updates) > 1 else updates[0]
