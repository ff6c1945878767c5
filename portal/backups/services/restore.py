"""Server-side restore: browse a snapshot's folders, stream one file or a
folder as a zip, decrypted here. Callers have checked access to the snapshot
(``selectors.access_snapshot``); downloads are audited by ``restore_record``."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone as dt_timezone

import zipstream
from django.db import transaction
from django.utils.translation import gettext

from portal.audit.actions import Action
from portal.audit.models import AuditEvent
from portal.audit.services import record
from portal.backups.models import Snapshot
from portal.backups.services.reader import BlobReader, SnapshotDamaged
from portal.backups.services.treecheck import Budget, check_entries
from portal.core.errors import InvalidInput, NotFound, PortalError
from portal.files.services.downloads import content_type_for, safe_member_part

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Located:
    path: str            # "/" joined, "" for the snapshot's root
    entry: dict          # the tree entry ({"type": "dir", "tree": root} for the root)


def _parts(path: str) -> list[str]:
    parts = [part for part in (path or "").split("/") if part]
    if any(part in (".", "..") for part in parts):
        raise InvalidInput(gettext("A snapshot path has no '.' or '..' parts."), code="invalid_path")
    return parts


def _tree(reader: BlobReader, tree_id: str, folder: str, budget: Budget) -> list[dict]:
    """A tree's entries, counted against the request's budget, names checked."""
    entries = reader.tree(tree_id)
    budget.visit(len(entries))
    if tree_id not in budget.checked:
        check_entries(entries, folder=folder)
        budget.checked.add(tree_id)
    return entries


def resolve(reader: BlobReader, snapshot: Snapshot, path: str) -> Located:
    """The entry at ``path`` in the snapshot; NotFound when there is none."""
    entry = {"name": "", "type": "dir", "tree": snapshot.root}
    walked: list[str] = []
    parts = _parts(path)
    Budget().descend(len(parts))
    for part in parts:
        if entry.get("type") != "dir":
            raise NotFound(gettext("%(join)s is not a folder in this snapshot.") % {"join": '/'.join(walked)})
        entry = next((e for e in reader.tree(entry["tree"]) if e.get("name") == part), None)
        walked.append(part)
        if entry is None:
            raise NotFound(gettext("There is no %(join)s in this snapshot.") % {"join": '/'.join(walked)})
    return Located(path="/".join(walked), entry=entry)


def _mtime(entry: dict) -> str | None:
    ns = entry.get("mtime_ns")
    if not isinstance(ns, int) or ns <= 0:  # 0: a folder above the backed-up ones (the agent keeps no time)
        return None
    seconds, rest = divmod(ns, 10**9)  # integers: a float would round the microseconds
    try:
        return (datetime.fromtimestamp(seconds, tz=dt_timezone.utc) + timedelta(microseconds=rest // 1000)).isoformat()
    except (OverflowError, OSError, ValueError):
        return None


def folder_list(snapshot: Snapshot, path: str, *, reader: BlobReader | None = None) -> dict:
    """A folder's entries: name, type, size, mtime (and target for symlinks)."""
    reader = reader or BlobReader.for_snapshot(snapshot)
    found = resolve(reader, snapshot, path)
    if found.entry.get("type") != "dir":
        raise InvalidInput(gettext("%(path)s is a file; download it with .../content/%(path)s.") % {"path": found.path},
                           code="not_a_folder")
    entries = []
    for entry in _tree(reader, found.entry["tree"], found.path, Budget()):
        item = {"name": entry["name"], "type": entry.get("type"), "size": entry.get("size"),
                "mtime": _mtime(entry)}
        if entry.get("type") == "symlink":
            item["target"] = entry.get("target")
        entries.append(item)
    return {"path": found.path, "entries": entries}


def _file_chunks(reader: BlobReader, entry: dict) -> Iterator[bytes]:
    chunks = entry.get("chunks") or []
    if not isinstance(chunks, list):
        raise SnapshotDamaged(gettext("%(get)r has no chunk list.") % {"get": entry.get('name')})
    left = int(entry.get("size") or 0)
    for data in reader.read(chunks):
        left -= len(data)
        if left < 0:  # never send more than the size promised (a chunk listed a million times)
            raise SnapshotDamaged(gettext("%(get)r holds more bytes than its size says.") % {"get": entry.get('name')})
        yield data


@dataclass
class FileRestore:
    snapshot: Snapshot
    path: str
    filename: str
    content_type: str
    size: int
    body: Iterator[bytes]


def file_restore(snapshot: Snapshot, path: str, *, reader: BlobReader | None = None) -> FileRestore:
    reader = reader or BlobReader.for_snapshot(snapshot)
    found = resolve(reader, snapshot, path)
    if found.entry.get("type") != "file":
        raise InvalidInput(gettext("%(value)s is not a file; download a folder with .../zip/%(path)s.") % {"value": found.path or '/', "path": found.path},
                           code="not_a_file")
    name = found.entry["name"]
    Budget().send(int(found.entry.get("size") or 0))
    return FileRestore(snapshot=snapshot, path=found.path, filename=name, content_type=content_type_for(name),
                       size=int(found.entry.get("size") or 0),
                       body=_primed(_logged(_file_chunks(reader, found.entry), snapshot, found.path)))


def _primed(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Read the first piece now, so a damaged backup is an error answer, not a cut-off download."""
    first = next(chunks, None)
    if first is None:
        return iter(())
    return itertools.chain([first], chunks)


def _logged(chunks: Iterator[bytes], snapshot: Snapshot, path: str) -> Iterator[bytes]:
    """Once bytes are sent the status cannot change: a failure mid-way is logged and ends the stream."""
    try:
        yield from chunks
    except (PortalError, RuntimeError):
        logger.exception("restore of %r from snapshot %s failed mid-stream", path, snapshot.pk)
        raise


@dataclass
class ZipRestore:
    snapshot: Snapshot
    path: str
    filename: str
    files: int
    bytes: int
    archive: zipstream.ZipStream

    @property
    def length(self) -> int:
        return len(self.archive)

    def chunks(self) -> Iterator[bytes]:
        return _logged(iter(self.archive), self.snapshot, self.path)


def zip_restore(snapshot: Snapshot, path: str, *, reader: BlobReader | None = None) -> ZipRestore:
    """A stored, sized zip of a snapshot folder. Trees are read now (they are
    small); file contents as the stream reaches them. Symlinks are left out."""
    reader = reader or BlobReader.for_snapshot(snapshot)
    found = resolve(reader, snapshot, path)
    if found.entry.get("type") != "dir":
        raise InvalidInput(gettext("%(path)s is a file; download it with .../content/%(path)s.") % {"path": found.path},
                           code="not_a_folder")
    archive = zipstream.ZipStream(compress_type=zipstream.ZIP_STORED, sized=True)
    files = total = 0
    budget = Budget()
    # Depth first in name order: each folder, then what it holds.
    stack = [(iter(_tree(reader, found.entry["tree"], found.path, budget)), "")]
    while stack:
        entry = next(stack[-1][0], None)
        if entry is None:
            stack.pop()
            continue
        name = stack[-1][1] + safe_member_part(entry["name"])
        if entry.get("type") == "dir":
            archive.mkdir(name)
            budget.descend(len(stack) + 1)
            stack.append((iter(_tree(reader, entry["tree"], "/".join(filter(None, (found.path, name))), budget)),
                          name + "/"))
        elif entry.get("type") == "file":
            size = int(entry.get("size") or 0)
            budget.send(size)
            archive.add(_file_chunks(reader, entry) if size else b"", name, size=size)
            files, total = files + 1, total + size
    base = found.path.rsplit("/", 1)[-1] if found.path else f"snapshot-{snapshot.pk}"
    return ZipRestore(snapshot=snapshot, path=found.path, filename=f"{base}.zip", files=files, bytes=total,
                      archive=archive)


@transaction.atomic
def restore_record(*, actor, snapshot: Snapshot, path: str, kind: str, files: int, size: int) -> AuditEvent:
    """Record that ``actor`` (the device's owner or an administrator) downloaded from a snapshot."""
    device = snapshot.device
    return record(action=Action.BACKUP_RESTORED, actor=actor, target=snapshot,
                  target_label=f"{device.name}:{snapshot.pk}:/{path}",
                  details={"device": device.pk, "owner": device.user.get_username(), "path": path, "kind": kind,
                           "files": files, "bytes": size})
