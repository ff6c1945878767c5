"""Which files the portal's editor opens for co-editing: text types, UTF-8, not too large."""

from __future__ import annotations

from django.conf import settings

COEDIT_EXTENSIONS = frozenset({
    "md", "markdown", "txt", "text", "csv", "tsv", "log", "json", "yaml", "yml", "toml", "ini", "cfg", "conf",
    "xml", "html", "htm", "css", "js", "ts", "py", "sh", "sql", "rst", "tex",
})
MARKDOWN_EXTENSIONS = frozenset({"md", "markdown"})


def extension_of(name: str) -> str:
    stem, dot, extension = name.rpartition(".")
    return extension.lower() if dot and stem else ""


def coeditable_name(name: str) -> bool:
    """Whether a file of this name opens in the co-editor (its type; size and encoding are checked on opening)."""
    return extension_of(name) in COEDIT_EXTENSIONS


def is_markdown(name: str) -> bool:
    return extension_of(name) in MARKDOWN_EXTENSIONS


def too_large(size: int) -> bool:
    return size > settings.COEDIT_MAX_BYTES
