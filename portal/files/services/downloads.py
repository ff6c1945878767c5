"""Downloads: how a file version is served, a folder as a streamed zip, and
the audit events of both.

Callers have already checked file.read (``versions.locate_file`` for a file,
``selectors.locate_path`` for a folder); nothing here checks access again.
"""

from __future__ import annotations

import logging
import mimetypes
import unicodedata
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

import zipstream
from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext

from portal.audit.actions import Action
from portal.audit.models import AuditEvent
from portal.audit.services import record
from portal.core.errors import PortalError
from portal.files.selectors import Located
from portal.files.models import FileVersion, Node, NodeKind
from portal.scanning.selectors import quarantine_checker
from portal.lifecycle.reads import blob_readable, zip_readable
from portal.storage.tiers import HOT, Placement, placement_open

logger = logging.getLogger(__name__)

DEFAULT_TYPE = "application/octet-stream"
# Types a browser may show in place: none of them can carry script that runs
# as the portal (never HTML, SVG, XML or JavaScript). Audio of any kind too.
INLINE_TYPES = frozenset({
    "image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "image/bmp",
    "application/pdf", "text/plain", "video/mp4", "video/webm", "video/ogg",
})
# mimetypes reports "x.tar.gz" as a tar with gzip *encoding*; served without a
# Content-Encoding, the bytes are a gzip file and should say so.
_COMPRESSED_TYPES = {"gzip": "application/gzip", "bzip2": "application/x-bzip2", "xz": "application/x-xz",
                     "compress": "application/x-compress", "br": "application/x-brotli"}
# Folder ids per query while walking a tree, so one huge level is a few queries, not one giant IN list.
_WALK_BATCH = 5000


def content_type_for(name: str) -> str:
    """The type a file's name implies; application/octet-stream when unknown."""
    guessed, encoding = mimetypes.guess_type(name, strict=True)
    if encoding:
        return _COMPRESSED_TYPES.get(encoding, DEFAULT_TYPE)
    return guessed or DEFAULT_TYPE


def inline_allowed(content_type: str) -> bool:
    base = content_type.split(";", 1)[0].strip().lower()
    return base in INLINE_TYPES or base.startswith("audio/")


@dataclass(frozen=True)
class FileDownload:
    placement: Placement   # where the bytes are now (hot store, a colder tier, a container)
    filename: str
    content_type: str
    inline: bool
    etag: str | None   # quoted SHA-256 once the hashing task has run; else the store's own tag applies
    size: int


def download_plan(node: Node, version: FileVersion, *, inline: bool = False, actor=None) -> FileDownload:
    """How ``version`` of ``node`` is served to ``actor`` (None: a link
    visitor). ``inline`` is honoured only for types in INLINE_TYPES (or
    audio); anything else downloads as an attachment. Raises Restoring for
    bytes in an archive tier that are not restored yet (and asks for it)."""
    content_type = content_type_for(node.name)
    inline = inline and inline_allowed(content_type)
    if inline and content_type == "text/plain":
        content_type += "; charset=utf-8"  # never let a browser guess a script-bearing charset
    blob = version.blob
    placement = blob_readable(blob, node=node, actor=actor)
    return FileDownload(placement=placement, filename=node.name, content_type=content_type, inline=inline,
                        etag=f'"{blob.sha256}"' if blob.sha256 else None, size=version.size)


@transaction.atomic
def download_record(*, actor, located: Located, version: FileVersion) -> AuditEvent:
    """Record that ``actor`` (a member with file.read) started downloading
    ``version`` of the located file. Views call it once per download start:
    a response that begins at byte 0, never a resumed range or a HEAD."""
    return record(action=Action.FILE_DOWNLOADED, actor=actor, target=located.node, target_label=located.path,
                  space=located.space, details={"version": version.number, "size": version.size})


# --- folders as zips ------------------------------------------------------------------

@dataclass(frozen=True)
class ZipMember:
    name: str         # folder-relative, sanitised; folders end with "/"
    placement: Placement | None   # None for folders and for files without content
    size: int
    blob_id: int | None = None
    node_id: int | None = None
    last_read: object = None

    @property
    def is_folder(self) -> bool:
        return self.name.endswith("/")


@dataclass
class FolderZip:
    folder: Node
    path: str         # the folder's path, for the audit label and logs
    filename: str
    members: list[ZipMember]
    archive: zipstream.ZipStream
    only: tuple[int, ...] = ()  # a selection of the folder's items (the whole folder when empty)

    @property
    def files(self) -> int:
        return sum(1 for member in self.members if not member.is_folder)

    @property
    def bytes(self) -> int:
        return sum(member.size for member in self.members)

    @property
    def length(self) -> int:
        """The zip's exact size: every member is stored, with its size known up front."""
        return len(self.archive)

    def chunks(self) -> Iterator[bytes]:
        """The zip's bytes. Once the first one is sent the status cannot change,
        so a store failure mid-way is logged and ends the stream early."""
        try:
            yield from self.archive
        except (PortalError, RuntimeError):  # RuntimeError: zipstream found a member of the wrong size
            logger.exception("zip of %s (space %s) failed mid-stream", self.path, self.folder.space_id)
            raise


def safe_member_part(name: str) -> str:
    """One path piece of a zip member. Names in the tree are validated; this
    is defense in depth against path traversal in whatever unpacks the zip."""
    cleaned = "".join("_" if ch in "/\\" or unicodedata.category(ch) == "Cc" else ch for ch in name)
    return "_" if cleaned.strip() in {"", ".", ".."} else cleaned


class ZipTooLarge(PortalError):
    status = 413
    code = "zip_too_large"


_BLOB_FIELDS = ("current_version__blob__key", "current_version__blob__tier", "current_version__blob__tier_key",
                "current_version__blob__pack_offset", "current_version__blob__last_read_at",
                "current_version__blob__created_at")


def _live_children(folder: Node, only: tuple[int, ...] = ()) -> dict[int, list[tuple]]:
    """Every live node below ``folder`` as (id, kind, name, size, version id,
    blob id, blob fields) rows by parent id: one query per level (per
    _WALK_BATCH folders). Trashed nodes are skipped, and so is everything
    inside them, since the walk never descends into them. More than
    ZIP_MAX_ENTRIES nodes is ZipTooLarge, found without reading more than
    one row past the limit. With ``only``, the folder's own level is those
    of its items alone."""
    children: dict[int, list[tuple]] = defaultdict(list)
    level, room = [folder.pk], settings.ZIP_MAX_ENTRIES
    while level:
        found = []
        for start in range(0, len(level), _WALK_BATCH):
            rows = Node.objects.filter(parent_id__in=level[start:start + _WALK_BATCH], trashed_at__isnull=True)
            if only and level[0] == folder.pk:
                rows = rows.filter(pk__in=only)
            found += (rows
                      .order_by("-kind", "name_key", "id")
                      .values_list("id", "parent_id", "kind", "name", "current_version__size",
                                   "current_version_id", "current_version__blob_id", *_BLOB_FIELDS)
                      [:room - len(found) + 1])
            if len(found) > room:
                raise ZipTooLarge(gettext("This folder holds more than %(ZIP_MAX_ENTRIES)s files and folders, too many for one zip; download its subfolders one by one, or sync it with WebDAV.") % {"ZIP_MAX_ENTRIES": settings.ZIP_MAX_ENTRIES},
                                  detail={"max_entries": settings.ZIP_MAX_ENTRIES})
        room -= len(found)
        for node_id, parent_id, kind, name, size, version_id, blob_id, *blob in found:
            children[parent_id].append((node_id, kind, name, size or 0, version_id, blob_id, blob))
        level = [row[0] for row in found if row[2] == NodeKind.FOLDER]
    return children


def _placement(size: int, key, tier, tier_key, offset, _last_read, _created) -> Placement:
    return Placement(HOT, key, size) if tier == HOT else Placement(tier, tier_key, size, offset)


def zip_members(folder: Node, only: tuple[int, ...] = ()) -> list[ZipMember]:
    """The folder's live contents (or those of the items ``only`` names),
    depth first: each folder, then what it holds (folders before files, by name)."""
    children = _live_children(folder, only)
    blocked = quarantine_checker()   # left out: their bytes may not leave the portal
    members: list[ZipMember] = []
    stack = [(iter(children.get(folder.pk, ())), "")]
    while stack:
        rows, prefix = stack[-1]
        row = next(rows, None)
        if row is None:
            stack.pop()
            continue
        node_id, kind, name, size, version_id, blob_id, blob = row
        path = prefix + safe_member_part(name)
        if kind == NodeKind.FOLDER:
            members.append(ZipMember(name=path + "/", placement=None, size=0))
            stack.append((iter(children.get(node_id, ())), path + "/"))
        elif not blocked(version_id, blob_id, name):
            placement = _placement(size, *blob) if blob_id else None
            members.append(ZipMember(name=path, placement=placement, size=size if placement else 0,
                                     blob_id=blob_id, node_id=node_id, last_read=blob[4] or blob[5]))
    return members


def _object_chunks(placement: Placement) -> Iterator[bytes]:
    # A generator: the object is opened only when the zip stream reaches this member.
    with placement_open(placement) as stream:
        yield from stream


def folder_zip(folder: Node, *, path: str = "", only: tuple[int, ...] = (), actor=None) -> FolderZip:
    """A stored (uncompressed), sized zip of a live folder, or of a selection
    of its items (``only``: their ids; the caller checked access to each).
    Only the tree's metadata is read now; each file's bytes are read in
    chunks as the zip stream reaches it, so memory stays flat and the first
    byte comes fast. Raises Restoring, before any byte, when files are in an
    archive tier and not restored yet (their restores are asked for)."""
    only = tuple(only)
    members = zip_members(folder, only)
    files = [m for m in members if m.placement is not None]
    zip_readable({m.blob_id: (m.placement.tier, m.last_read, m.node_id) for m in files}, actor=actor)
    archive = zipstream.ZipStream(compress_type=zipstream.ZIP_STORED, sized=True)
    for member in members:
        if member.is_folder:
            archive.mkdir(member.name)
        elif member.placement is None or member.size == 0:
            archive.add(b"", member.name)
        else:
            archive.add(_object_chunks(member.placement), member.name, size=member.size)
    filename = f"{folder.name or folder.space.name}.zip"
    return FolderZip(folder=folder, path=path, filename=filename, members=members, archive=archive, only=only)


@transaction.atomic
def zip_record(*, actor, download: FolderZip) -> AuditEvent:
    """Record that ``actor`` (a member with file.read) started downloading a folder as a zip."""
    folder = download.folder
    return record(action=Action.FILE_ZIP_DOWNLOADED, actor=actor, target=folder,
                  target_label=download.path, space=folder.space,
                  details={"files": download.files, "bytes": download.bytes,
                           **({"selected": list(download.only)} if download.only else {})})
