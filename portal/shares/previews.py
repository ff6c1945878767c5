"""Preview renditions: what a preview shows is made here, never the original
bytes, so a preview-only link has no path to the file itself.

Images are scaled down and re-encoded, PDF pages (and the pages of an
Office document's PDF rendition) are rendered to PNG, all with the link's
watermark drawn in. Text, code and Markdown are shown by the portal's viewer
(portal.previews.viewing) as escaped, highlighted or sanitised HTML.
Anything else has no preview.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

from django.conf import settings
from PIL import Image, ImageDraw, ImageFont, ImageOps
from django.utils.translation import gettext

from portal.core.errors import InvalidInput, PortalError
from portal.files.models import FileVersion, Node
from portal.files.services.downloads import content_type_for
from portal.storage.tiers import placement_open

IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "image/tiff"}
TEXT_TYPES = {"text/plain", "text/csv", "text/markdown", "application/json", "text/x-python"}
MAX_SIDE = 1600


# Pillow refuses (past twice this) or warns about images this large wherever
# they are opened in the process, from the moment previews can be asked for.
Image.MAX_IMAGE_PIXELS = settings.PREVIEW_MAX_PIXELS


class NoPreview(PortalError):
    status = 415
    code = "no_preview"


def kind_of(node: Node) -> str | None:
    if node.is_folder:
        return None
    content_type = content_type_for(node.name)
    if content_type in IMAGE_TYPES:
        return "image"
    if content_type == "application/pdf":
        return "pdf"
    from portal.previews import kinds

    if kinds.viewer_kind(node.name) == kinds.OFFICE:
        return "office"
    if content_type in TEXT_TYPES or content_type.startswith("text/"):
        return "text"
    return None


@dataclass(frozen=True)
class Rendition:
    body: bytes
    content_type: str
    pages: int = 1


def _read(version: FileVersion, limit: int) -> bytes:
    with placement_open(version.blob.placement) as stream:
        return stream.read(limit)


def _too_big(version: FileVersion) -> None:
    if version.size > settings.SHARE_PREVIEW_MAX_BYTES:
        raise NoPreview(gettext("This file is too large to preview; download it instead if the link allows."))


def _watermark(image: Image.Image, text: str) -> Image.Image:
    if not text:
        return image
    base = image.convert("RGBA")
    size = max(14, min(base.size) // 18)
    font = ImageFont.load_default(size=size)
    tile = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(tile)
    step_x, step_y = max(size * len(text) * 0.7, 200), size * 5
    for row in range(math.ceil(base.size[1] / step_y) + 2):
        for col in range(math.ceil(base.size[0] / step_x) + 2):
            offset = (row % 2) * step_x / 2
            draw.text((col * step_x - offset, row * step_y), text, font=font, fill=(128, 128, 128, 90))
    return Image.alpha_composite(base, tile.rotate(20, expand=False)).convert("RGB")


def _encode(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


class ImageTooLarge(NoPreview):
    """The image's header announces more pixels than a preview may decode."""


def open_image(data: bytes) -> Image.Image:
    """An image opened from its header only, refused (before a single pixel is
    decoded) when it would decode to more than PORTAL_PREVIEW_MAX_PIXELS.
    Pillow's own decompression-bomb limit is lowered to the same figure, for
    whatever opens images without this check (past twice the limit Pillow
    refuses in ``open`` already)."""
    limit = settings.PREVIEW_MAX_PIXELS
    Image.MAX_IMAGE_PIXELS = limit
    too_large = ImageTooLarge(f"This image has more than {limit:,} pixels, too large to preview; download it "
                              "instead if the link allows.", detail={"max_pixels": limit})
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise too_large from None
    width, height = image.size
    if width * height > limit:
        image.close()
        raise too_large
    return image


def image_rendition(version: FileVersion, watermark: str) -> Rendition:
    _too_big(version)
    try:
        with open_image(_read(version, version.size)) as image:
            # Scale down first (thumbnail lets JPEGs decode at a reduced size),
            # then turn by the EXIF orientation: no full-size copy is made.
            image.thumbnail((MAX_SIDE, MAX_SIDE))
            image = ImageOps.exif_transpose(image)
            return Rendition(_encode(_watermark(image.convert("RGB"), watermark)), "image/png")
    except (OSError, ValueError, Image.DecompressionBombError):
        raise NoPreview(gettext("This image cannot be previewed.")) from None


def _pdf_bytes(node: Node, version: FileVersion) -> bytes:
    """The PDF a page image is drawn from: the file itself, or an Office
    document's PDF rendition (portal.previews; made on demand by the viewer)."""
    from portal.previews import kinds
    from portal.previews.selectors import rendition_pdf

    if kinds.viewer_kind(node.name) != kinds.OFFICE:
        _too_big(version)
        return _read(version, version.size)
    rendition = rendition_pdf(version)
    if rendition is None:
        raise NoPreview(gettext("A preview of this document is being prepared; reload the page in a moment."))
    with rendition:
        return rendition.read()


def page_count(node: Node, version: FileVersion) -> int:
    """Pages of a PDF or of an Office document's rendition (0 when there is none yet)."""
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(_pdf_bytes(node, version))
    except (pdfium.PdfiumError, PortalError):
        return 0
    try:
        return len(document)
    finally:
        document.close()


def pdf_rendition(version: FileVersion, watermark: str, page: int) -> Rendition:
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(_pdf_bytes(version.node, version))
    except pdfium.PdfiumError:
        raise NoPreview(gettext("This PDF cannot be previewed.")) from None
    try:
        pages = len(document)
        if not 1 <= page <= max(pages, 1):
            raise InvalidInput(gettext("This PDF has %(pages)s pages.") % {"pages": pages}, code="invalid_page", detail={"pages": pages})
        pdf_page = document[page - 1]
        width, height = pdf_page.get_size()
        scale = min(MAX_SIDE / max(width, height, 1), 3.0)
        image = pdf_page.render(scale=scale).to_pil()
        return Rendition(_encode(_watermark(image, watermark)), "image/png", pages=pages)
    finally:
        document.close()


def rendition(node: Node, version: FileVersion, *, watermark: str, page: int = 1) -> Rendition:
    kind = kind_of(node)
    if kind == "image":
        if page != 1:   # one page: a "later page" would be a repeat the view does not count
            raise InvalidInput(gettext("This image has 1 page."), code="invalid_page", detail={"pages": 1})
        return image_rendition(version, watermark)
    if kind in ("pdf", "office"):
        return pdf_rendition(version, watermark, page)
    raise NoPreview(gettext("There is no preview for this kind of file."))
