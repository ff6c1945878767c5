"""Writes to locks: acquire, refresh, release, break, expire; and the record
of writes a lock refused. Each public function is one transaction with its
audit event. WebDAV uses these too (kind "editor", its Timeout header, the
tokens of its If header)."""

from __future__ import annotations

import contextvars
import functools
import logging
import smtplib
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from portal.audit.actions import Action
from portal.audit.models import Outcome
from portal.audit.services import record
from portal.core.access import Cap
from portal.spaces.selectors import can
from portal.core.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    Locked,
    NotFound,
    PreconditionFailed,
)
from portal.core.validation import whole_number
from portal.files.models import Node
from portal.files.selectors import path_label
from portal.spaces.quota import refuse_archived
from portal.locks import selectors
from portal.locks.models import Lock, LockDepth, LockKind, LockScope

logger = logging.getLogger(__name__)

NOTE_MAX = 500
CLIENT_MAX = 255


def policy_timeout(kind: str, timeout=None) -> int:
    """Seconds a lock of ``kind`` lasts: what was asked, capped by the policy;
    the policy's default when nothing was asked."""
    if kind == LockKind.MANUAL:
        default = maximum = settings.LOCK_MANUAL_MAX_SECONDS
    else:
        default, maximum = settings.LOCK_EDITOR_DEFAULT_SECONDS, settings.LOCK_EDITOR_MAX_SECONDS
    if timeout is None:
        return min(default, maximum)
    return min(whole_number(timeout, field="timeout", minimum=1), maximum)


def _choice(value, choices, field: str) -> str:
    if value not in choices.values:
        raise InvalidInput(gettext("Unknown %(field)s %(value)r; use one of: %(join)s.") % {"field": field, "value": value, "join": ', '.join(choices.values)},
                           code=f"invalid_{field}", detail={"field": field, "choices": choices.values})
    return value


def _text(value, *, field: str, max_length: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(gettext("%(field)s must be text.") % {"field": field}, detail={"field": field})
    value = value.strip()
    if len(value) > max_length:
        raise InvalidInput(gettext("%(field)s is too long (%(count)s characters; at most %(max_length)s).") % {"field": field, "count": len(value), "max_length": max_length},
                           detail={"field": field, "max_length": max_length})
    return value


def _label(node: Node) -> str:
    return path_label(node)


def _conflicting(node: Node, scope: str, depth: str, now) -> list[Lock]:
    """Live locks a new lock would clash with: on the node, on its ancestors
    with depth infinity and, for a depth-infinity lock, on what it holds.
    Shared locks clash only with exclusive ones."""
    locks = selectors.live_locks_for(node, now=now)
    if depth == LockDepth.INFINITY:
        locks += selectors.locks_within(node, now=now)
    return [lock for lock in locks if scope == LockScope.EXCLUSIVE or lock.scope == LockScope.EXCLUSIVE]


@transaction.atomic
def lock_acquire(*, actor, node: Node, kind: str = LockKind.MANUAL, timeout=None, note: str = "",
                 client: str = "", scope: str = LockScope.EXCLUSIVE, depth: str = LockDepth.ZERO) -> Lock:
    """Editors lock a file (WebDAV, kind "editor", may also lock a folder).
    Conflict (409, code "locked", the holder in detail) when a live lock clashes,
    the actor's own included: refresh that one instead."""
    if not can(actor, Cap.FILE_WRITE, node.space):
        raise Forbidden(gettext("Only editors can lock files in this space."), detail={"capability": Cap.FILE_WRITE.value})
    refuse_archived(node.space)
    kind = _choice(kind, LockKind, "kind")
    scope = _choice(scope, LockScope, "scope")
    depth = _choice(depth, LockDepth, "depth")
    if node.is_folder and kind != LockKind.EDITOR:
        raise InvalidInput(gettext("%(value)s is a folder; only files can be locked here.") % {"value": _label(node)}, code="not_a_file")
    if depth == LockDepth.INFINITY and kind != LockKind.EDITOR:
        raise InvalidInput(gettext("Only WebDAV locks can have depth infinity."), code="invalid_depth")
    seconds = policy_timeout(kind, timeout)
    note = _text(note, field="note", max_length=NOTE_MAX)
    client = _text(client, field="client", max_length=CLIENT_MAX)[:CLIENT_MAX]
    selectors.hold_rows(node, taking_lock=True)  # attempts on this node, above or below it queue here
    now = timezone.now()
    clash = _conflicting(node, scope, depth, now)
    if clash:
        holder = clash[0]
        values = {"path": _label(node), "until": selectors._when(holder.expires_at),
                  "owner": holder.owner.get_full_name() or holder.owner.get_username()}
        message = (gettext("%(path)s is already locked by you until %(until)s; refresh your lock instead.")
                   if holder.owner_id == actor.pk else
                   gettext("%(path)s is already locked by %(owner)s until %(until)s.")) % values
        raise Conflict(message,
                       code="locked", detail={"holder": selectors.lock_info(holder),
                                              "locks": [selectors.lock_info(lock) for lock in clash]})
    lock = Lock.objects.create(node=node, owner=actor, kind=kind, scope=scope, depth=depth, created_at=now,
                               refreshed_at=now, expires_at=now + timedelta(seconds=seconds),
                               timeout_seconds=seconds, client=client, note=note)
    record(action=Action.LOCK_ACQUIRED, actor=actor, target=node, target_label=_label(node), space=node.space,
           details={"lock": lock.pk, "kind": kind, "scope": scope, "depth": depth, "timeout": seconds,
                    "client": client})
    return lock


def _own_live_lock(actor, token, *, node: Node | None, error) -> Lock:
    """The actor's live lock with this token (on ``node`` when given), row-locked;
    ``error(message)`` for anything else, Forbidden for another member's lock."""
    lock = (Lock.objects.select_for_update(of=("self",)).select_related("node__space", "owner")
            .filter(token=token).first()) if isinstance(token, str) and token else None
    if lock is None or not lock.is_live() or (node is not None and lock.node_id != node.pk):
        raise error(gettext("No live lock on this file has that token: it expired, was released or broken, or is "
                    "another file's. Lock the file again."))
    if lock.owner_id != getattr(actor, "pk", None):
        if not can(actor, Cap.FILE_READ, lock.node.space) and not can(actor, Cap.LOCK_BREAK, lock.node.space):
            raise error(gettext("No live lock on this file has that token."))
        raise Forbidden(gettext("This lock belongs to %(get_username)s; only they can refresh or release it (a space manager or an administrator can break it).") % {"get_username": lock.owner.get_username()}, code="not_lock_owner")
    return lock


@transaction.atomic
def lock_refresh(*, actor, token, timeout=None, node: Node | None = None) -> Lock:
    """The owner, while still allowed to write in the space, extends their live
    lock by ``timeout`` seconds from now (default: its last timeout), capped by
    the policy. PreconditionFailed (412) for a token that is unknown, expired
    or (with ``node``) another node's; Forbidden once the owner's role no
    longer lets them write (they may still release it)."""
    lock = _own_live_lock(actor, token, node=node,
                          error=lambda message: PreconditionFailed(message, code="lock_token_invalid"))
    if not can(actor, Cap.FILE_WRITE, lock.node.space):  # the role today, not the one the lock was taken with
        raise Forbidden(gettext("You can no longer change files in space %(name)r, so your lock cannot be refreshed; release it, or ask a space manager for the editor role.") % {"name": lock.node.space.name},
                        code="lock_refresh_forbidden", detail={"capability": Cap.FILE_WRITE.value})
    seconds = policy_timeout(lock.kind, lock.timeout_seconds if timeout is None else timeout)
    now = timezone.now()
    lock.refreshed_at, lock.expires_at, lock.timeout_seconds = now, now + timedelta(seconds=seconds), seconds
    lock.save(update_fields=["refreshed_at", "expires_at", "timeout_seconds"])
    record(action=Action.LOCK_REFRESHED, actor=actor, target=lock.node, target_label=_label(lock.node),
           space=lock.node.space, details={"lock": lock.pk, "timeout": seconds})
    return lock


@transaction.atomic
def lock_release(*, actor, token, node: Node | None = None) -> None:
    """The owner releases their lock. Conflict (409, as RFC 4918's UNLOCK) for a
    token that is unknown, expired or (with ``node``) another node's."""
    lock = _own_live_lock(actor, token, node=node,
                          error=lambda message: Conflict(message, code="lock_token_invalid"))
    _delete(lock, action=Action.LOCK_RELEASED, actor=actor)


def _delete(lock: Lock, *, action: str, actor, details: dict | None = None) -> None:
    target, label, space = lock.node, _label(lock.node), lock.node.space
    lock_id = lock.pk
    lock.delete()
    record(action=action, actor=actor, target=target, target_label=label, space=space,
           details={"lock": lock_id, "kind": lock.kind, "owner": lock.owner.get_username(),
                    "owner_id": lock.owner_id, **(details or {})})


@transaction.atomic
def lock_break(*, actor, lock_id) -> None:
    """Space managers and owners, and administrators, break anyone's lock (its
    owner may too); the owner is told by email once the break is committed."""
    try:
        lock_id = int(lock_id)
    except (TypeError, ValueError):
        raise NotFound(gettext("No such lock.")) from None
    lock = (Lock.objects.select_for_update(of=("self",)).select_related("node__space", "owner")
            .filter(pk=lock_id).first())
    space = lock.node.space if lock else None
    if lock is None or not (can(actor, Cap.FILE_READ, space) or can(actor, Cap.LOCK_BREAK, space)):
        raise NotFound(gettext("No such lock."))
    if lock.owner_id != actor.pk and not can(actor, Cap.LOCK_BREAK, space):
        raise Forbidden(gettext("Only %(get_username)s, a manager of space %(name)r or an administrator can break this lock.") % {"get_username": lock.owner.get_username(), "name": lock.node.space.name}, detail={"capability": Cap.LOCK_BREAK.value})
    was_live, label = lock.is_live(), _label(lock.node)
    _delete(lock, action=Action.LOCK_BROKEN, actor=actor, details={"was_live": was_live})
    if was_live and lock.owner_id != actor.pk and lock.owner.email:
        breaker = actor.get_full_name() or actor.get_username()
        transaction.on_commit(functools.partial(_tell_owner, email=lock.owner.email, path=label,
                                                space=lock.node.space.name, breaker=breaker))


def locks_drop_for_member(*, actor, user, space) -> int:
    """The locks ``user`` holds on files of ``space``, removed (as ``lock.broken``
    by ``actor``) in the transaction that takes their right to write there
    away (removed from the space, or made a viewer): a lock its owner may no
    longer refresh or write through must not keep the editors out until it
    expires. Called by the membership services."""
    locks = list(Lock.objects.select_for_update(of=("self",)).select_related("node__space", "owner")
                 .filter(owner=user, node__space=space).order_by("id"))
    for lock in locks:
        _delete(lock, action=Action.LOCK_BROKEN, actor=actor,
                details={"was_live": lock.is_live(), "reason": "owner_lost_write_access"})
    return len(locks)


def _tell_owner(*, email: str, path: str, space: str, breaker: str) -> None:
    """Mail the owner of a broken lock. The break stands whatever the mail server says."""
    try:
        send_mail(subject=gettext("Your lock on %(path)s was removed") % {"path": path},
                  message=gettext("%(breaker)s removed your lock on %(path)s in space '%(space)s'. Others can change "
                                  "the file now; if you still have unsaved changes, save them as a copy and "
                                  "compare.") % {"breaker": breaker, "path": path, "space": space},
                  from_email=None, recipient_list=[email])
    except (OSError, smtplib.SMTPException):
        logger.warning("could not mail %s about their broken lock on %s", email, path, exc_info=True)


def locks_expire(*, now=None) -> int:
    """The system removes locks whose time is up, recording lock.expired for
    each (they had stopped applying at their expiry already). Safe to run twice."""
    now = now or timezone.now()
    count = 0
    while True:
        with transaction.atomic():
            batch = list(Lock.objects.select_for_update(skip_locked=True, of=("self",)).select_related("node__space", "owner")
                         .filter(expires_at__lte=now).order_by("expires_at", "id")[:200])
            for lock in batch:
                _delete(lock, action=Action.LOCK_EXPIRED, actor=None,
                        details={"expired_at": lock.expires_at.isoformat()})
        count += len(batch)
        if len(batch) < 200:
            return count


# --- Refused writes ------------------------------------------------------------


def lock_refusal_record(*, exc: Locked) -> None:
    """Record a write a lock refused (once per refusal). Called after the refused
    service's transaction rolled back, so the event outlives it."""
    refusal = getattr(exc, "refusal", None)
    if not refusal:
        return
    exc.refusal = None
    record(action=Action.LOCK_WRITE_REFUSED, actor=refusal["actor"], target=refusal["node"],
           target_label=refusal["path"], space=refusal["space"], outcome=Outcome.DENIED,
           details={"operation": refusal["operation"], "locks": refusal["lock_ids"]})


_service_depth: contextvars.ContextVar[int] = contextvars.ContextVar("lock_refusal_service_depth", default=0)


def records_lock_refusals(func):
    """The one way a refused write is recorded: put outside
    ``@transaction.atomic`` on every service that calls ``ensure_writable``
    (which only raises). The refusal rolls the service's transaction back, so
    it is recorded here, after the rollback, by the outermost such service
    when one calls another inside its own transaction."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        depth = _service_depth.set(_service_depth.get() + 1)
        try:
            return func(*args, **kwargs)
        except Locked as exc:
            if _service_depth.get() == 1:
                lock_refusal_record(exc=exc)
            raise
        finally:
            _service_depth.reset(depth)

    return wrapper
