"""What the viewer shows of one file version: one code path for the
portal's viewer page and for share-link pages (templates/previews/_view.html).

Text and code are highlighted here (Pygments: escaped HTML, never the file
itself), Markdown is rendered without raw HTML and sanitised again, Office
documents are shown through their PDF rendition. The caller says where the
bytes come from (``Sources``): the portal's inline endpoints, or a share
link's watermarked page images, which never hand out the original.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import nh3
from django.conf import settings
from django.utils.translation import gettext
from markdown_it import MarkdownIt
from pygments import format as format_tokens
from pygments import highlight, lex
from pygments.formatters import HtmlFormatter
from pygments.lexers import TextLexer, get_lexer_for_filename
from pygments.util import ClassNotFound

from portal.files.models import FileVersion, Node
from portal.previews import kinds
from portal.previews.models import DerivedState
from portal.scanning.models import ScanState
from portal.scanning.selectors import quarantine_reason
from portal.storage.tiers import placement_open

_FORMATTER = HtmlFormatter(cssclass="highlight", wrapcode=True)
# Lexers guess from the name only: content-based guessing reads the whole text and can be slow.
_LEXER_OPTIONS = {"stripnl": False, "ensurenl": True}
HIGHLIGHT_SECONDS = 2.0   # then the text is shown unhighlighted (TextLexer is linear)
MARKDOWN_BYTES = 256 * 1024
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").enable("strikethrough")
_SAFE_TAGS = nh3.ALLOWED_TAGS - {"img"}   # images would be fetched from elsewhere (and CSP blocks them)


@dataclass(frozen=True)
class Sources:
    """Where the viewer's page loads bytes from. Share links leave ``bytes``
    empty and give ``page_image`` (watermarked PNGs) instead."""

    bytes: str = ""          # inline original: images, PDF, audio, video
    rendition: str = ""      # the Office document's PDF rendition
    status: str = ""         # polled (htmx) while a rendition is being made
    page_image: str = ""     # "...?page=" for page images (share links)


@dataclass
class Viewing:
    kind: str
    node: Node
    version: FileVersion | None
    sources: Sources = field(default_factory=Sources)
    html: str = ""
    truncated: bool = False
    text_limit: int = 0
    rendition_state: str = ""
    rendition_error: str = ""
    pages: int = 0
    blocked_reason: str = ""

    @property
    def blocked(self) -> bool:
        return bool(self.blocked_reason)

    @property
    def shows_pdf(self) -> bool:
        return self.kind == kinds.PDF or (self.kind == kinds.OFFICE and self.rendition_state == DerivedState.READY)


def _read_start(version: FileVersion, limit: int) -> tuple[str, bool]:
    with placement_open(version.blob.placement) as stream:
        data = stream.read(limit)
    return data.decode("utf-8", errors="replace"), version.size > limit


class _OutOfTime(Exception):
    pass


def _within(tokens, seconds: float):
    """The lexer's tokens until ``seconds`` have passed. Several lexers' rules
    rescan the rest of the text at each failed start (an unclosed string,
    ``"\\"\\...``): quadratic, hours for a crafted megabyte. Each token
    costs at most one scan, so the check between tokens bounds the time."""
    deadline = time.monotonic() + seconds
    for token in tokens:
        if time.monotonic() > deadline:
            raise _OutOfTime
        yield token


def code_html(name: str, text: str) -> str:
    """``text`` highlighted for a file called ``name``: escaped HTML with
    classes only; plain escaped text when highlighting takes too long."""
    try:
        lexer = get_lexer_for_filename(name, **_LEXER_OPTIONS)
    except ClassNotFound:
        lexer = TextLexer(**_LEXER_OPTIONS)
    try:
        return format_tokens(_within(lex(text, lexer), HIGHLIGHT_SECONDS), _FORMATTER)
    except _OutOfTime:
        return highlight(text, TextLexer(**_LEXER_OPTIONS), _FORMATTER)


def markdown_html(text: str) -> str:
    """Markdown rendered with raw HTML off, then sanitised (links keep http(s) and mailto only)."""
    return nh3.clean(_MARKDOWN.render(text), tags=_SAFE_TAGS, url_schemes={"http", "https", "mailto"},
                     link_rel="noopener noreferrer nofollow")


def blocked_reason(version: FileVersion | None) -> str:
    verdict = quarantine_reason(version)
    if verdict is None:
        return ""
    if verdict.state == ScanState.FLAGGED:
        return gettext("This file was quarantined by the content scanner (%(signature)s); it cannot be opened, "
                       "downloaded or shared. An administrator can review and release it.") % {
                           "signature": verdict.signature}
    return gettext("This file has not been scanned yet (or the scanner could not be reached); it is held until "
                   "it is scanned clean. Try again in a minute.")


def viewing_for(node: Node, version: FileVersion | None, sources: Sources, *,
                blocked: str | None = None) -> Viewing:
    """What to show of ``version`` of ``node``; nothing at all when it is
    quarantined or held. ``blocked``: the caller's own answer to that, when it
    has checked already ("" for clean), so the verdicts are not read twice."""
    viewing = Viewing(kind=kinds.viewer_kind(node.name), node=node, version=version, sources=sources)
    if version is None:
        viewing.kind = kinds.NONE
        return viewing
    viewing.blocked_reason = blocked_reason(version) if blocked is None else blocked
    if viewing.blocked:
        return viewing
    if viewing.kind in (kinds.TEXT, kinds.MARKDOWN):
        viewing.text_limit = settings.VIEWER_TEXT_BYTES
        if viewing.kind == kinds.MARKDOWN:   # its parser is superlinear on crafted input: ~18 s for 1 MiB of "["
            viewing.text_limit = min(viewing.text_limit, MARKDOWN_BYTES)
        text, viewing.truncated = _read_start(version, viewing.text_limit)
        viewing.html = markdown_html(text) if viewing.kind == kinds.MARKDOWN else code_html(node.name, text)
    elif viewing.kind == kinds.OFFICE:
        from portal.previews.services import rendition_request

        derived = rendition_request(version)
        viewing.rendition_state, viewing.rendition_error = derived.state, derived.error
    return viewing
