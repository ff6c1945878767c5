"""Names and paths in the file tree.

Names are Unicode NFC, at most 255 bytes of UTF-8, without "/", NUL or control
characters, not "." or "..", without trailing spaces or dots (Windows drops
them). Two names that differ only by case cannot share a folder.

Every new name must also sync to any desktop and read as what it is: no
characters Windows refuses (``\\ : * ? " < > |``), no name Windows reserves
for a device (CON, PRN, AUX, NUL, COM1-9, LPT1-9, with any extension, any
case), no bidirectional-text controls, which make ``invoice\u202egpj.exe``
look like ``invoiceexe.jpg``, and no invisible characters (zero-width space,
word joiner, BOM, soft hyphen, line and paragraph separators). Names stored before these rules stay reachable
by path and writable (writes parse paths with ``split_path(..., existing=True)``);
every name a write creates (file, folder, rename, move or copy target) is
checked in full where it is made.
"""

from __future__ import annotations

import unicodedata
from django.utils.translation import gettext

from portal.core.errors import InvalidInput

MAX_NAME_BYTES = 255
MAX_DEPTH = 64


def name_key(name: str) -> str:
    return unicodedata.normalize("NFC", name.casefold())


# Bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) and marks.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
# Characters that show as nothing, so "a<ZWSP>b.txt" reads as "ab.txt" beside it. The
# zero-width (non-)joiners stay allowed: emoji sequences and several scripts need them.
INVISIBLE = frozenset("\u200b\u2060\ufeff\u00ad\u180e\u2028\u2029")
WINDOWS_FORBIDDEN = frozenset('\\:*?"<>|')
WINDOWS_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL"} | {f"{dev}{n}" for dev in ("COM", "LPT")
                                                              for n in "123456789\u00b9\u00b2\u00b3"})


def clean_name(name, *, existing: bool = False) -> str:
    """A new name (for a file or folder made, renamed, moved or copied), or
    with ``existing`` one only looked up (stored names predating the rules
    for other systems still resolve)."""
    if not isinstance(name, str):
        raise InvalidInput(gettext("A name must be text."), code="invalid_name")
    name = unicodedata.normalize("NFC", name)
    problem = _name_problem(name) or (None if existing else _portability_problem(name))
    if problem:
        raise InvalidInput(gettext("%(name)r is not a valid name: %(problem)s.") % {"name": name, "problem": problem}, code="invalid_name", detail={"name": name})
    return name


def _portability_problem(name: str) -> str | None:
    if any(ch in BIDI_CONTROLS for ch in name):
        return "it contains a bidirectional text control character, which can disguise its real extension"
    if any(ch in INVISIBLE for ch in name):
        return "it contains an invisible character, which makes it look like another name"
    if bad := sorted({ch for ch in name if ch in WINDOWS_FORBIDDEN}):
        return f"it contains {' '.join(bad)}, which Windows does not allow in names"
    if name.split(".", 1)[0].rstrip(" ").upper() in WINDOWS_RESERVED:
        return f"{name.split('.', 1)[0].rstrip(' ')} is a device name reserved on Windows, with any extension"
    return None


def _name_problem(name: str) -> str | None:
    if not name:
        return "it is empty"
    if name in {".", ".."}:
        return "'.' and '..' are reserved"
    if "/" in name or "\\" in name:
        return "it contains a slash"
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        return "it contains a control character"
    if name[-1] in " .":
        return "it ends with a space or a dot"
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        return f"it is longer than {MAX_NAME_BYTES} bytes in UTF-8"
    return None


def split_path(path, *, existing: bool = False) -> list[str]:
    """The cleaned names of an absolute path ("/a/b" -> ["a", "b"]); "/" -> [].
    ``existing``: a path only looked up, never created (see clean_name)."""
    if not isinstance(path, str):
        raise InvalidInput(gettext("A path must be text."), code="invalid_path")
    if "\\" in path:
        raise InvalidInput(gettext("Paths use '/' between names, not backslashes."), code="invalid_path")
    parts = [part for part in path.split("/") if part != ""]
    if len(parts) > MAX_DEPTH:
        raise InvalidInput(gettext("Paths are at most %(MAX_DEPTH)s folders deep.") % {"MAX_DEPTH": MAX_DEPTH}, code="invalid_path")
    return [clean_name(part, existing=existing) for part in parts]


def join(names: list[str]) -> str:
    return "/" + "/".join(names)


def first_free(name: str, taken) -> str | None:
    """``name``, or ``name (2)``, ``name (3)``, ... (before the extension): the
    first one for which ``taken(candidate)`` is false; None after 9,999 tries."""
    if not taken(name):
        return name
    stem, dot, ext = name.rpartition(".")
    if not stem:
        stem, dot, ext = name, "", ""
    for number in range(2, 10_000):
        candidate = f"{stem} ({number}){dot}{ext}"
        if not taken(candidate):
            return candidate
    return None
