"""What a snapshot's trees may hold, and how much one request may read of them.

Names: a tree entry names one thing inside its folder, so a name is never
empty, ``.`` or ``..``, and holds no ``/`` or NUL; a folder names each entry
once; every entry is a file, folder or symlink. The portal refuses a snapshot
breaking this when it is committed (400 ``unsafe_entry`` naming the entry),
and the server-side restore refuses such a tree if one is stored anyway (409),
as the agent does before it writes (the portal may be the attacker there).

Work: trees are shared (a folder that did not change is the same tree in
every snapshot, and a tree may reference one subtree many times), so a small
tree set can describe an astronomically large snapshot. A browse, download
or zip request counts the entries it visits, the depth it reaches and the
bytes it promises, and stops with 413 past BACKUP_RESTORE_MAX_* .
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext

from portal.backups import crypto
from portal.backups.services.reader import SnapshotDamaged
from portal.core.errors import Conflict, InvalidInput, PortalError

TYPES = ("file", "dir", "symlink")
# A tree found safe (with everything below it) stays safe: its id is its content's hash.
_CHECKED = "backups:tree-checked:{}"
_CHECKED_FOR = 30 * 24 * 3600
_BATCH = 1000


class RestoreTooLarge(PortalError):
    status = 413
    code = "restore_too_large"


def unsafe(entry) -> str | None:
    """Why a tree entry must not be restored, or None."""
    name = entry.get("name") if isinstance(entry, dict) else None
    if not isinstance(name, str) or not name:
        return "an entry has no name"
    if name in (".", ".."):
        return "a name may not be '.' or '..'"
    if "/" in name or "\x00" in name:
        return "a name may not contain '/' or NUL"
    kind = entry.get("type")
    if kind not in TYPES:
        return f"unknown entry type {kind!r}"
    if kind == "dir" and not crypto.is_chunk_id(entry.get("tree")):
        return "a folder entry has no tree id"
    if kind == "file" and (not isinstance(entry.get("size"), int) or isinstance(entry["size"], bool)
                           or entry["size"] < 0 or not isinstance(entry.get("chunks"), list)):
        return "a file entry has no valid size or chunk list"
    if kind == "symlink" and (not isinstance(entry.get("target"), str) or "\x00" in entry["target"]):
        return "a symlink has no valid target"
    return None


def check_entries(entries: list[dict], *, folder: str, committing: bool = False) -> None:
    """Refuse a tree with an unsafe or repeated name: 400 when a device commits
    it, 409 when a stored snapshot holds it. ``folder`` says where, for the message."""
    names: set[str] = set()
    for entry in entries:
        reason = unsafe(entry)
        name = entry.get("name") if isinstance(entry, dict) else None
        if reason is None and name in names:
            reason = "the folder names it twice"
        if reason is not None:
            where = f"{folder}/{name}" if folder else str(name)
            error = InvalidInput if committing else Conflict
            raise error(gettext("The snapshot holds an unsafe entry %(where)r (%(reason)s); it is not restored.") % {
                "where": where, "reason": reason},
                        code="unsafe_entry", detail={"folder": folder, "name": name, "reason": reason})
        names.add(name)


def check_snapshot_trees(reader, root: str) -> None:
    """Every tree below ``root`` has only safe entries. Level by level, each
    distinct tree once, read in batches (one index query and as few ranged
    reads as the packs allow per batch); trees already checked, with all below
    them, are skipped."""
    level, seen, checked = [(root, "")], set(), []
    while level:
        batch: dict[str, str] = {}
        for tree_id, folder in level:
            if tree_id not in seen:
                seen.add(tree_id)
                batch[tree_id] = folder
        known = cache.get_many([_CHECKED.format(tree_id) for tree_id in batch])
        todo = [tree_id for tree_id in batch if _CHECKED.format(tree_id) not in known]
        level = []
        for start in range(0, len(todo), _BATCH):
            ids = todo[start:start + _BATCH]
            for tree_id, plaintext in zip(ids, reader.read(ids)):
                try:
                    entries = crypto.tree_decode(plaintext)
                except crypto.BlobInvalid as exc:
                    raise SnapshotDamaged(gettext("Tree %(tree_id)s: %(exc)s") % {"tree_id": tree_id, "exc": exc}, detail={"chunk": tree_id}) from None
                folder = batch[tree_id]
                check_entries(entries, folder=folder, committing=True)
                level.extend((e["tree"], f"{folder}/{e['name']}" if folder else e["name"])
                             for e in entries if e["type"] == "dir")
        checked.extend(todo)
    cache.set_many({_CHECKED.format(tree_id): 1 for tree_id in checked}, _CHECKED_FOR)


class Budget:
    """What one request may visit: entries, folder depth, bytes to send.
    ``checked``: trees whose names this request already checked."""

    def __init__(self):
        self.entries = self.bytes = 0
        self.checked: set[str] = set()
        self.max_entries = settings.BACKUP_RESTORE_MAX_ENTRIES
        self.max_depth = settings.BACKUP_RESTORE_MAX_DEPTH
        self.max_bytes = settings.BACKUP_RESTORE_MAX_BYTES

    def visit(self, count: int = 1) -> None:
        self.entries += count
        if self.entries > self.max_entries:
            raise RestoreTooLarge(gettext("This folder holds more than %(max_entries)s entries, more than one download may walk; download smaller folders, or restore with the agent.") % {"max_entries": self.max_entries},
                                  code="restore_limit_entries", detail={"limit": self.max_entries})

    def descend(self, depth: int) -> None:
        if depth > self.max_depth:
            raise RestoreTooLarge(gettext("This folder nests deeper than %(max_depth)s levels; restore it with the agent.") % {"max_depth": self.max_depth},
                                  code="restore_limit_depth", detail={"limit": self.max_depth})

    def send(self, size: int) -> None:
        self.bytes += size
        if self.bytes > self.max_bytes:
            raise RestoreTooLarge(gettext("This download would be more than %(max_bytes)s bytes; download smaller folders, or restore with the agent.") % {"max_bytes": self.max_bytes}, code="restore_limit_bytes",
                                  detail={"limit": self.max_bytes})
