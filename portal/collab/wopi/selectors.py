"""Reads for the WOPI host: a file's lock state as WOPI sees it, and the file's facts for CheckFileInfo."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import timezone as dt_timezone

from django.utils.translation import gettext

from portal.files.models import Node
from portal.locks.models import Lock, LockKind
from portal.locks.selectors import blocking_locks, live_locks_for


@dataclass
class LockState:
    wopi: Lock | None                              # the file's own WOPI lock
    others: list[Lock] = field(default_factory=list)  # other locks that stop this user

    def reason(self) -> str:
        """X-WOPI-LockFailureReason for a file another interface holds (for logs only, says the spec)."""
        coediting = [lock for lock in self.others if lock.kind == LockKind.COEDIT]
        if coediting:
            people = sorted({lock.owner.get_full_name() or lock.owner.get_username() for lock in coediting})
            return gettext("Being edited in the portal by %(names)s.") % {"names": ", ".join(people)}
        lock = self.others[0]
        owner = lock.owner.get_full_name() or lock.owner.get_username()
        client = f" ({lock.client})" if lock.client else ""
        return gettext("Locked by %(owner)s%(client)s.") % {"owner": owner, "client": client}


def lock_state(node: Node, actor) -> LockState:
    """The live WOPI lock on the file, and the other covering locks that stop ``actor`` without a token."""
    covering = live_locks_for(node)
    wopi = next((lock for lock in covering if lock.wopi_lock and lock.node_id == node.pk), None)
    rest = [lock for lock in covering if lock is not wopi]
    return LockState(wopi=wopi, others=blocking_locks(rest, actor, frozenset()))


def lock_string_get(node: Node, actor) -> str:
    """GetLock: the file's WOPI lock string, or "" (unlocked, or locked by another interface)."""
    state = lock_state(node, actor)
    return state.wopi.wopi_lock if state.wopi is not None else ""


def modified_stamp(node: Node) -> str:
    """LastModifiedTime: when the current version was made (ISO 8601, UTC); "" for a file without one."""
    version = node.current_version
    if version is None:
        return ""
    return version.created_at.astimezone(dt_timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sha256_b64(node: Node) -> str | None:
    """CheckFileInfo's SHA256: the current version's digest, base64, once the hashing task computed it."""
    blob = getattr(node.current_version, "blob", None)
    if blob is None or not blob.sha256:
        return None
    return base64.b64encode(bytes.fromhex(blob.sha256)).decode("ascii")
