"""Names and paths in the file tree.

Names are Unicode NFC, at most 255 bytes of UTF-8, without "/", NUL or control
characters, not "." or "..", without trailing spaces or dots (Windows drops
them). Two names that differ only by case cannot share a folder.
"""

from __future__ import annotations

import unicodedata

from portal.core.errors import InvalidInput

MAX_NAME_BYTES = 255
MAX_DEPTH = 64


def name_key(name: str) -> str:
    return unicodedata.normalize("NFC", name.casefold())


def clean_name(name) -> str:
    if not isinstance(name, str):
        raise InvalidInput("A name must be text.", code="invalid_name")
    name = unicodedata.normalize("NFC", name)
    problem = _name_problem(name)
    if problem:
        raise InvalidInput(f"{name!r} is not a valid name: {problem}.", code="invalid_name", detail={"name": name})
    return name


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


def split_path(path) -> list[str]:
    """The cleaned names of an absolute path ("/a/b" -> ["a", "b"]); "/" -> []."""
    if not isinstance(path, str):
        raise InvalidInput("A path must be text.", code="invalid_path")
    if "\\" in path:
        raise InvalidInput("Paths use '/' between names, not backslashes.", code="invalid_path")
    parts = [part for part in path.split("/") if part != ""]
    if len(parts) > MAX_DEPTH:
        raise InvalidInput(f"Paths are at most {MAX_DEPTH} folders deep.", code="invalid_path")
    return [clean_name(part) for part in parts]


def join(names: list[str]) -> str:
    return "/" + "/".join(names)
