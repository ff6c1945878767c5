"""Reads of derived files (thumbnails, renditions)."""

from __future__ import annotations


def thumbnail_urls(nodes) -> dict[int, str]:
    """Thumbnail URL per file node id, for the nodes whose current version has one (one query)."""
    return {}


def rendition_pdf(version):
    """The PDF rendition of an Office version as a readable file, or None when there is none (yet)."""
    return None
