"""Text out of a file version, once per version, capped: plain text,
Markdown and code as they are; PDF through pypdfium2; Office documents
through their PDF rendition (portal.previews), when one exists."""

from __future__ import annotations

import logging
import mimetypes
import time
from pathlib import PurePosixPath

from portal.files.models import FileVersion
from portal.search.index import FileType, file_type
from portal.storage.tiers import placement_open

logger = logging.getLogger(__name__)

TEXT_LIMIT = 1024 * 1024             # characters of text kept per version
TEXT_BYTES = 4 * TEXT_LIMIT          # bytes read of a text file (UTF-8 CJK is 3 bytes a character)
PDF_BYTES = 64 * 1024 * 1024         # larger PDFs are not read for text
PDF_PAGES = 2000                     # pages read of a PDF, at most
PDF_SECONDS = 60.0                   # no page is started after this long on one PDF
TEXT_EXTENSIONS = frozenset("csv tsv srt vtt".split())
OFFICE_EXTENSIONS = frozenset("doc docx odt rtf xls xlsx ods ppt pptx odp wps et dps".split())


def extension(name: str) -> str:
    return PurePosixPath(name.casefold()).suffix.lstrip(".")


def text_of(version: FileVersion) -> str | None:
    """The version's text (at most TEXT_LIMIT characters), or None when its
    kind has none or it cannot be read (yet: an Office file without rendition)."""
    name = version.node.name
    ext = extension(name)
    if file_type(name) == FileType.TEXT or ext in TEXT_EXTENSIONS:
        return decode(_read(version, TEXT_BYTES))[:TEXT_LIMIT]
    if ext == "pdf":
        if version.size > PDF_BYTES:
            return None
        return pdf_text(_read(version, PDF_BYTES))
    if ext in OFFICE_EXTENSIONS or (mimetypes.guess_type(name)[0] or "").startswith("application/vnd.openxml"):
        return _rendition_text(version)
    return None


def _read(version: FileVersion, limit: int) -> bytes:
    if version.size == 0:
        return b""
    end = min(version.size, limit) - 1
    with placement_open(version.blob.placement, start=0, end=end) as stream:
        return b"".join(stream)


def _rendition_text(version: FileVersion) -> str | None:
    from portal.previews.selectors import rendition_pdf
    from portal.previews.services import rendition_request

    rendition = rendition_pdf(version)
    if rendition is None:
        rendition_request(version)  # made once; its readiness queues this extraction again
        return None
    data = rendition if isinstance(rendition, bytes) else rendition.read(PDF_BYTES)
    if hasattr(rendition, "close"):
        rendition.close()
    return pdf_text(data)


def decode(data: bytes) -> str:
    """Text of a file in UTF-8 (a character cut by the byte limit is dropped),
    UTF-16 (with a BOM, or without one when every other byte of ASCII-heavy
    text is zero), or else GB18030 (older Chinese files). Binary bytes (NULs
    that are not UTF-16) have no text: segmenting megabytes of garbage costs
    the worker seconds and fills the index with noise."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    head = data[:8192]
    if b"\x00" in head:
        even, odd = head[0::2].count(0), head[1::2].count(0)
        if odd > 0.9 * (even + odd) and odd > len(head) // 8:
            return data[:len(data) // 2 * 2].decode("utf-16-le", errors="replace")
        if even > 0.9 * (even + odd) and even > len(head) // 8:
            return data[:len(data) // 2 * 2].decode("utf-16-be", errors="replace")
        return ""
    for cut in range(4):
        try:
            return data[:len(data) - cut].decode("utf-8-sig")
        except UnicodeDecodeError:
            continue
    return data.decode("gb18030", errors="replace")


def pdf_text(data: bytes) -> str | None:
    """The text of a PDF's pages, in order, until TEXT_LIMIT characters,
    PDF_PAGES pages or PDF_SECONDS seconds; None if it does not open."""
    import pypdfium2

    try:
        pdf = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as exc:
        logger.info("no text from a PDF: %s", exc)
        return None
    parts, total = [], 0
    deadline = time.monotonic() + PDF_SECONDS
    try:
        for index in range(min(len(pdf), PDF_PAGES)):
            if time.monotonic() > deadline:
                logger.info("PDF text cut after %d pages: %.0f s", index, PDF_SECONDS)
                break
            page = pdf[index]
            textpage = page.get_textpage()
            text = textpage.get_text_range()
            textpage.close()
            page.close()
            parts.append(text)
            total += len(text)
            if total >= TEXT_LIMIT:
                break
    finally:
        pdf.close()
    return "\n".join(parts)[:TEXT_LIMIT]
