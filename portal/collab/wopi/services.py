"""WOPI writes: the lock operations, saving, saving as, renaming. Called by the WOPI views for the
user an access token names, with the file located for them with file.write.

A WOPI lock is a row of Coffer's lock table: kind "editor", exclusive, the
office server's lock string in ``wopi_lock``, 30 minutes from its last
Lock/RefreshLock (the protocol's fixed lease). Whoever presents the lock
string holds it (Collabora and OnlyOffice use one string for every user of
a document); every other writer (WebDAV, the API, the portal, co-editing) is
refused by it as by any editor lock. A lock of another kind that stops the
user (someone else's, a WebDAV client's, a co-editing session's shared
locks) makes every WOPI lock operation a mismatch with an empty lock string.

The answers follow the lock table of Microsoft's WOPI REST reference; a
mismatch raises ``LockMismatch`` carrying the current lock string.
"""

from __future__ import annotations

from datetime import timedelta
from typing import BinaryIO

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from portal.audit.actions import Action
from portal.audit.services import record
from portal.collab.wopi.selectors import LockState, lock_state, modified_stamp
from portal.core.errors import Conflict, InvalidInput, Locked, PortalError
from portal.files import names
from portal.files.models import FileVersion
from portal.files.selectors import Located, child_named, locate_node
from portal.files.services.direct import file_put, free_name
from portal.files.services.tree import node_rename
from portal.locks.models import Lock, LockKind, LockScope
from portal.locks.selectors import hold_rows, wopi_lock_token
from portal.spaces.quota import refuse_archived

LOCK_MAX = 1024


class LockMismatch(PortalError):
    """409 with X-WOPI-Lock: ``current`` (empty when unlocked or locked by another interface)."""
    status = 409
    code = "wopi_lock_mismatch"

    def __init__(self, message: str, *, current: str = "", other_interface: bool = False, **kwargs):
        super().__init__(message, **kwargs)
        self.current = current
        self.other_interface = other_interface


class FileChanged(PortalError):
    """Collabora's "the file changed in storage since you opened it" (409, COOLStatusCode 1010)."""
    status = 409
    code = "wopi_file_changed"


def _lock_string(value) -> str:
    if not isinstance(value, str) or not value or len(value) > LOCK_MAX:
        raise InvalidInput(gettext("X-WOPI-Lock must be a lock string of 1 to %(max)s characters.") % {"max": LOCK_MAX},
                           code="wopi_lock_invalid")
    return value


def mismatch_of(state: LockState, message: str | None = None) -> LockMismatch:
    """The lock mismatch answer for the file's current state."""
    if state.others:
        return LockMismatch(state.reason(), other_interface=True)
    if state.wopi is None:
        return LockMismatch(message or gettext("The file is not locked."))
    return LockMismatch(message or gettext("The file is locked with another lock string."),
                        current=state.wopi.wopi_lock)


def _held(located: Located, actor) -> LockState:
    """The file's lock state with its rows held, so no lock or write interleaves until commit."""
    hold_rows(located.node, taking_lock=True)
    return lock_state(located.node, actor)


def _extend(lock: Lock) -> None:
    now = timezone.now()
    lock.refreshed_at, lock.expires_at = now, now + timedelta(seconds=settings.WOPI_LOCK_SECONDS)
    lock.timeout_seconds = settings.WOPI_LOCK_SECONDS
    lock.save(update_fields=["refreshed_at", "expires_at", "timeout_seconds", "wopi_lock"])


@transaction.atomic
def wopi_lock(*, actor, located: Located, lock, old_lock=None, client: str = "") -> Lock:
    """Lock (``old_lock`` None) or UnlockAndRelock, for a user with file.write. Locking again with the
    same string refreshes the lease."""
    lock = _lock_string(lock)
    refuse_archived(located.space)
    state = _held(located, actor)
    if state.others:
        raise mismatch_of(state)
    if old_lock is not None:
        if state.wopi is None or state.wopi.wopi_lock != old_lock:
            raise mismatch_of(state)
        state.wopi.wopi_lock = lock
        _extend(state.wopi)
        _record(Action.WOPI_LOCKED, actor, located, {"lock": state.wopi.pk, "relock": True})
        return state.wopi
    if state.wopi is not None:
        if state.wopi.wopi_lock != lock:
            raise mismatch_of(state)
        _extend(state.wopi)
        return state.wopi
    now, seconds = timezone.now(), settings.WOPI_LOCK_SECONDS
    row = Lock.objects.create(node=located.node, owner=actor, kind=LockKind.EDITOR, scope=LockScope.EXCLUSIVE,
                              created_at=now, refreshed_at=now, expires_at=now + timedelta(seconds=seconds),
                              timeout_seconds=seconds, client=(client or gettext("Office editor"))[:255],
                              wopi_lock=lock)
    _record(Action.WOPI_LOCKED, actor, located, {"lock": row.pk, "timeout": seconds})
    return row


@transaction.atomic
def wopi_lock_refresh(*, actor, located: Located, lock) -> Lock:
    """RefreshLock: 30 more minutes for the lock with this string, for a user with file.write."""
    lock = _lock_string(lock)
    state = _held(located, actor)
    if state.others or state.wopi is None or state.wopi.wopi_lock != lock:
        raise mismatch_of(state)
    _extend(state.wopi)
    record(action=Action.LOCK_REFRESHED, actor=actor, target=located.node, target_label=located.path,
           space=located.space, details={"lock": state.wopi.pk, "timeout": settings.WOPI_LOCK_SECONDS,
                                         "via": "wopi"})
    return state.wopi


@transaction.atomic
def wopi_unlock(*, actor, located: Located, lock) -> None:
    """Unlock: the lock with this string goes, for a user with file.write."""
    lock = _lock_string(lock)
    state = _held(located, actor)
    if state.others or state.wopi is None or state.wopi.wopi_lock != lock:
        raise mismatch_of(state)
    lock_id = state.wopi.pk
    state.wopi.delete()
    _record(Action.WOPI_UNLOCKED, actor, located, {"lock": lock_id})


def _record(action: str, actor, located: Located, details: dict) -> None:
    record(action=action, actor=actor, target=located.node, target_label=located.path, space=located.space,
           details=details)


def _put(*, actor, located: Located, path_names: list[str], fileobj: BinaryIO, size: int, tokens: list[str],
         details: dict) -> FileVersion:
    """The bytes as the file's next version (file_put, which records file.uploaded), with wopi.saved."""
    def saved(version: FileVersion) -> None:
        record(action=Action.WOPI_SAVED, actor=actor, target=version.node, target_label=names.join(path_names),
               space=located.space, details={"version": version.number, "size": size, **details})
    try:
        return file_put(actor=actor, space_id=located.space.pk, path=names.join(path_names), fileobj=fileobj,
                        size=size, lock_tokens=tokens, details={"via": "wopi"}, before_commit=saved)
    except Locked as exc:  # a lock the checks above did not see (taken on a folder above meanwhile)
        raise LockMismatch(exc.message, other_interface=True) from None


@transaction.atomic
def wopi_file_put(*, actor, located: Located, lock, fileobj: BinaryIO, size: int, stamp: str | None = None,
                  details: dict | None = None) -> FileVersion:
    """PutFile, for a user with file.write: with the file's lock string; or, on an unlocked file, only
    while it is empty (how office editors fill a new file). ``stamp``: the LastModifiedTime the editor
    last saw (Collabora's X-COOL-WOPI-Timestamp); FileChanged when the file changed since."""
    state = _held(located, actor)
    if state.others:
        raise mismatch_of(state)
    if state.wopi is not None and state.wopi.wopi_lock != lock:
        raise mismatch_of(state)
    node = located.node
    node.refresh_from_db(fields=["current_version", "size"])
    if state.wopi is None and (node.current_version is not None and node.current_version.size != 0):
        raise mismatch_of(state, gettext("The file is not locked; lock it before saving."))
    if stamp and stamp != modified_stamp(node):
        raise FileChanged(gettext("The file was changed by someone else since the editor opened it."),
                          detail={"LastModifiedTime": modified_stamp(node)})
    tokens = [wopi_lock_token(lock)] if state.wopi is not None else []
    return _put(actor=actor, located=located, path_names=list(located.path_names), fileobj=fileobj, size=size,
                tokens=tokens, details=details or {})


@transaction.atomic
def wopi_file_rename(*, actor, located: Located, lock, requested: str) -> Located:
    """RenameFile: ``requested`` is the new name without its extension, which stays; a taken name
    becomes the first free "name (n)". InvalidInput for a name Coffer does not allow."""
    state = _held(located, actor)
    if state.others or (state.wopi is not None and state.wopi.wopi_lock != lock):
        raise mismatch_of(state)
    ext = located.node.name.rpartition(".")[2] if "." in located.node.name.lstrip(".") else ""
    if not isinstance(requested, str) or not requested.strip():
        raise InvalidInput(gettext("The new name is empty."), code="invalid_name")
    name = names.clean_name(f"{requested}.{ext}" if ext else requested)
    if name != located.node.name:
        name = free_name(located.node.parent, name)
    tokens = [wopi_lock_token(lock)] if state.wopi is not None else []
    return node_rename(actor=actor, node_id=located.node.pk, name=name, lock_tokens=tokens)


class TargetExists(Conflict):
    """PutRelativeFile onto a taken name without X-WOPI-OverwriteRelativeTarget (or onto a locked file)."""
    code = "wopi_target_exists"

    def __init__(self, message: str, *, valid_target: str, current_lock: str | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.valid_target = valid_target
        self.current_lock = current_lock


def relative_name(located: Located, target: str, *, suggested: bool) -> str:
    """The name PutRelativeFile asks for: a suggestion may be just an extension (".pdf": the file's own
    name with it) and is made unique; a relative target is taken as it is."""
    if not isinstance(target, str) or not target.strip():
        raise InvalidInput(gettext("The target name is empty."), code="invalid_name")
    if suggested and target.startswith("."):
        stem = located.node.name.rpartition(".")[0] or located.node.name
        target = stem + target
    name = names.clean_name(target)
    return free_name(located.node.parent, name) if suggested else name


@transaction.atomic
def wopi_file_put_relative(*, actor, located: Located, name: str, overwrite: bool, fileobj: BinaryIO,
                           size: int) -> FileVersion:
    """PutRelativeFile: a new file ``name`` beside the located one (``relative_name``), for a user with
    file.write; an existing one is overwritten only when asked and when no lock stops it."""
    parent_names, source_id = list(located.path_names[:-1]), located.node.pk
    existing = child_named(located.node.parent, name)
    if existing is not None:
        valid = free_name(located.node.parent, name)
        if not overwrite or existing.is_folder:
            raise TargetExists(gettext("%(name)s already exists.") % {"name": name}, valid_target=valid)
        target = locate_node(actor, existing.pk)
        hold_rows(existing, taking_lock=True)
        state = lock_state(existing, actor)
        if state.wopi is not None or state.others:
            raise TargetExists(gettext("%(name)s is locked.") % {"name": name}, valid_target=valid,
                               current_lock=state.wopi.wopi_lock if state.wopi is not None else "")
        located = target
    return _put(actor=actor, located=located, path_names=[*parent_names, name], fileobj=fileobj, size=size,
                tokens=[], details={"relative_to": source_id})

