"""What kind of viewer a file gets, from its name alone."""

from __future__ import annotations

from pathlib import PurePosixPath

from portal.files.services.downloads import content_type_for

IMAGE = "image"
PDF = "pdf"
OFFICE = "office"
TEXT = "text"
MARKDOWN = "markdown"
AUDIO = "audio"
VIDEO = "video"
NONE = "none"

# Raster images a thumbnail is made of (Pillow reads them); SVG is shown as <img> only.
THUMBNAIL_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "image/tiff"})
IMAGE_TYPES = THUMBNAIL_TYPES | {"image/avif", "image/svg+xml"}
VIDEO_TYPES = frozenset({"video/mp4", "video/webm", "video/ogg"})
OFFICE_SUFFIXES = frozenset({".docx", ".xlsx", ".pptx", ".odt", ".ods", ".odp", ".doc", ".xls", ".ppt", ".rtf"})
MARKDOWN_SUFFIXES = frozenset({".md", ".markdown", ".mdown"})
# Source files mimetypes does not call text/*; Pygments names the language.
TEXT_SUFFIXES = frozenset({
    ".json", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".conf", ".log", ".sql", ".sh", ".bash", ".ps1",
    ".js", ".mjs", ".ts", ".tsx", ".jsx", ".go", ".rs", ".rb", ".php", ".java", ".kt", ".swift", ".c", ".h",
    ".cpp", ".hpp", ".cs", ".lua", ".pl", ".r", ".scala", ".dart", ".vue", ".dockerfile", ".env", ".xml",
    ".html", ".htm", ".svgz", ".tex", ".diff", ".patch", ".properties", ".gradle", ".bat",
})
TEXT_NAMES = frozenset({"makefile", "dockerfile", "readme", "license", "procfile", ".gitignore"})


def viewer_kind(name: str) -> str:
    """The viewer for a file called ``name``: one of the constants above."""
    suffix = PurePosixPath(name).suffix.lower()
    content_type = content_type_for(name)
    if suffix in OFFICE_SUFFIXES:
        return OFFICE
    if suffix in MARKDOWN_SUFFIXES:
        return MARKDOWN
    if content_type in IMAGE_TYPES:
        return IMAGE
    if content_type == "application/pdf":
        return PDF
    if content_type.startswith("audio/"):
        return AUDIO
    if content_type in VIDEO_TYPES:
        return VIDEO
    if content_type.startswith("text/") or suffix in TEXT_SUFFIXES or name.lower() in TEXT_NAMES:
        return TEXT
    return NONE


def takes_thumbnail(name: str) -> bool:
    return content_type_for(name) in THUMBNAIL_TYPES
