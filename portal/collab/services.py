"""Writes of co-editing: opening a session, joining and leaving it, storing
the updates clients send, writing the document back as a file version, and
the heartbeat and sweep that keep sessions honest when a server dies.

The websocket server (portal.collab.server) calls these from its threads;
the editor page opens the session; the beat task sweeps. Each join and
leave records its audit event; each written version records
``coedit.saved`` with its co-authors beside the usual ``file.uploaded``.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Q
from django.utils import timezone
from django.utils.translation import gettext

from portal.audit.actions import Action
from portal.audit.services import record
from portal.collab import document
from portal.collab.access import Participation
from portal.collab.models import CoeditParticipant, CoeditSession, CoeditUpdate, SessionState
from portal.core.access import Cap
from portal.core.errors import Conflict, InvalidInput, NotFound, PortalError, Throttled
from portal.files import names
from portal.files.models import FileVersion, Node
from portal.files.selectors import path_names_of
from portal.files.services.direct import file_put
from portal.locks.models import Lock, LockKind, LockScope
from portal.locks.selectors import hold_rows, live_locks_for
from portal.spaces.selectors import space_access
from portal.storage.tiers import placement_open

logger = logging.getLogger(__name__)

EDITOR_CLIENT = "Coffer editor"


class SessionEnded(Conflict):
    """The session a ticket names has ended: the page must start over (a fresh document)."""
    code = "coedit_session_ended"


@dataclass(frozen=True)
class Joined:
    session_id: int
    can_edit: bool


# --- Opening -------------------------------------------------------------------------


def _version_text(version: FileVersion | None) -> str:
    if version is None:
        return ""
    with placement_open(version.blob.placement) as stream:
        data = stream.read(settings.COEDIT_MAX_BYTES + 1)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(gettext("This file is not UTF-8 text, so it cannot be edited in the browser; download "
                                   "it instead."), code="not_utf8") from None


def session_open(*, participation: Participation) -> CoeditSession:
    """The file's open session, started from its newest version when there is
    none. Called by the editor page for anyone who may read the file; the join
    that follows on the websocket records the event."""
    node = participation.node
    for _ in range(3):
        stale = _stale_session(node)
        if stale is not None:  # the file changed since (an upload while nobody was in it): start from that
            session_close(session_id=stale)
        try:
            with transaction.atomic():
                hold_rows(node, taking_lock=True)  # one opener at a time per file (PostgreSQL)
                session = CoeditSession.objects.filter(node=node, state=SessionState.OPEN).first()
                if session is not None:
                    return session
                node = Node.objects.select_related("current_version__blob").get(pk=node.pk)
                version = node.current_version
                session = CoeditSession.objects.create(node=node, base_version=version, saved_at=timezone.now())
                seed = CoeditUpdate.objects.create(session=session, data=document.seed_update(_version_text(version)))
                session.saved_through = seed.pk
                session.save(update_fields=["saved_through"])
                return session
        except IntegrityError:  # another process opened it between our look and our insert
            continue
    raise PortalError(gettext("The document could not be opened; try again."), code="coedit_busy", status=503)


def _stale_session(node: Node) -> int | None:
    """An open session of ``node`` nobody is in whose document no longer starts from the file's newest version."""
    current = Node.objects.filter(pk=node.pk).values_list("current_version_id", flat=True).first()
    return (CoeditSession.objects.filter(node_id=node.pk, state=SessionState.OPEN, participants__isnull=True)
            .exclude(base_version_id=current).values_list("pk", flat=True).first())


def session_updates(*, session_id: int) -> list[bytes]:
    """Every stored update of a session, in the order they arrived (a server loading the document)."""
    return [bytes(data) for data in
            CoeditUpdate.objects.filter(session_id=session_id).order_by("id").values_list("data", flat=True)]


# --- Joining and leaving ---------------------------------------------------------------


def _coedit_lock_ensure(node: Node, owner, now) -> bool:
    """Give ``owner`` a live shared coedit lock on ``node`` (refreshing theirs).
    False when an exclusive lock of someone else's stands (they may only follow)."""
    covering = live_locks_for(node, now=now)
    if any(lock.scope == LockScope.EXCLUSIVE and lock.kind != LockKind.COEDIT and lock.owner_id != owner.pk
           for lock in covering):
        return False
    if any(lock.scope == LockScope.EXCLUSIVE and lock.owner_id == owner.pk for lock in covering):
        return True  # their own exclusive lock already keeps others' writes out
    expires = now + timedelta(seconds=settings.COEDIT_LOCK_SECONDS)
    mine = [lock for lock in covering if lock.kind == LockKind.COEDIT and lock.owner_id == owner.pk]
    if mine:
        Lock.objects.filter(pk__in=[lock.pk for lock in mine]).update(refreshed_at=now, expires_at=expires)
        return True
    Lock.objects.create(node=node, owner=owner, kind=LockKind.COEDIT, scope=LockScope.SHARED, created_at=now,
                        refreshed_at=now, expires_at=expires, timeout_seconds=settings.COEDIT_LOCK_SECONDS,
                        client=EDITOR_CLIENT)
    return True


def _event_fields(participation: Participation) -> dict:
    details = {}
    if participation.link is not None:
        details["link"] = participation.link.pk
    return {"actor": participation.user, "target": participation.node, "target_label": participation.path,
            "space": participation.node.space, "details": details,
            "actor_label": participation.name if participation.user is None else None}


@transaction.atomic
def session_join(*, participation: Participation, session_id: int, connection_id, process: str) -> Joined:
    """A reader (or editor) joins the open session their ticket names;
    SessionEnded once it has ended. Editors get the file's coedit lock."""
    node = participation.node
    hold_rows(node, taking_lock=True)
    session = CoeditSession.objects.select_for_update().filter(pk=session_id, node=node,
                                                              state=SessionState.OPEN).first()
    if session is None or (session.base_version_id != Node.objects.values_list("current_version_id", flat=True).get(
            pk=node.pk) and not session.participants.exists()):
        raise SessionEnded(gettext("This editing session has ended; reload the page to continue."))
    same = Q(user=participation.user) if participation.user is not None else Q(link=participation.link)
    if CoeditParticipant.objects.filter(same, session=session).count() >= settings.COEDIT_MAX_CONNECTIONS:
        raise Throttled(gettext("You have this document open in too many windows; close some and try again."),
                        code="too_many_connections")
    now = timezone.now()
    can_edit = participation.can_edit and _coedit_lock_ensure(node, participation.author, now)
    CoeditParticipant.objects.create(id=connection_id, session=session, process=process, user=participation.user,
                                     link=participation.link, can_edit=can_edit, joined_at=now, seen_at=now)
    if can_edit:
        session.editors.add(participation.author)
    fields = _event_fields(participation)
    fields["details"].update(session=session.pk, can_edit=can_edit)
    record(action=Action.COEDIT_JOINED, **fields)
    return Joined(session_id=session.pk, can_edit=can_edit)


def _owned_by(owner_id: int) -> Q:
    return Q(user_id=owner_id) | Q(user__isnull=True, link__created_by_id=owner_id)


def _other_editors(session: CoeditSession, row: CoeditParticipant) -> bool:
    """Whether editors other than ``row`` are still at work: connected, and still holding their coedit lock
    (one whose right went, e.g. removed from the space, lost it in that same transaction)."""
    holders = set(Lock.objects.filter(node_id=session.node_id, kind=LockKind.COEDIT,
                                      expires_at__gt=timezone.now()).values_list("owner_id", flat=True))
    others = CoeditParticipant.objects.filter(session=session, can_edit=True).exclude(pk=row.pk).values_list(
        "user_id", "link__created_by_id")
    return any((user or creator) in holders for user, creator in others)


def participant_leave(*, participant_id, reason: str = "left") -> bool:
    """A connection ended (or its server stopped answering: ``reason``). When
    it was the last editor's, the document is written back first; its owner's
    coedit lock goes once they have no other editing connection. False when
    the participant had already gone."""
    row = (CoeditParticipant.objects.select_related("session__node__space", "user", "link__created_by")
           .filter(pk=participant_id).first())
    if row is None:
        return False
    session = row.session
    if row.can_edit and not _other_editors(session, row):
        session_save(session_id=session.pk, reason="last_editor_left")
    with transaction.atomic():
        if not CoeditParticipant.objects.filter(pk=row.pk).delete()[0]:
            return False
        owner = row.user or (row.link.created_by if row.link else None)
        if row.can_edit and owner is not None and not CoeditParticipant.objects.filter(
                _owned_by(owner.pk), session=session, can_edit=True).exists():
            Lock.objects.filter(node=session.node, owner=owner, kind=LockKind.COEDIT).delete()
        label = names.join(path_names_of(session.node)) if session.node.trashed_at is None else session.node.name
        details = {"session": session.pk, "reason": reason}
        if row.link_id:
            details["link"] = row.link_id
        record(action=Action.COEDIT_LEFT, actor=row.user, target=session.node, target_label=label,
               space=session.node.space, details=details,
               actor_label=gettext("Guest") if row.user is None else None)
    return True


# --- Storing updates -------------------------------------------------------------------


def updates_append(*, session_id: int, updates: list[tuple[bytes, int | None, object]]) -> set:
    """Store clients' updates (``(data, author id, participant id)``, in
    arrival order) in one transaction, before anyone else receives them;
    SessionEnded when the session has ended meanwhile. Updates of
    participants whose access changed since their last check (or who are
    gone) are not stored: their ids come back, for the server to look their
    right up again. Edits are audited by the join and by the version they end
    up in (``coedit.saved``)."""
    with transaction.atomic():
        if not CoeditSession.objects.filter(pk=session_id, state=SessionState.OPEN).exists():
            raise SessionEnded(gettext("This editing session has ended; reload the page to continue."))
        senders = {participant for _, _, participant in updates}
        cleared = set(CoeditParticipant.objects.filter(pk__in=senders, can_edit=True, checked_epoch=F("access_epoch"))
                      .values_list("pk", flat=True))
        CoeditUpdate.objects.bulk_create([CoeditUpdate(session_id=session_id, data=data, author_id=author)
                                          for data, author, participant in updates if participant in cleared])
    return senders - cleared


def participant_epoch(*, participant_id) -> int | None:
    """The access epoch a fresh look-up of this connection's right starts at (None: the connection is gone)."""
    return CoeditParticipant.objects.filter(pk=participant_id).values_list("access_epoch", flat=True).first()


def participant_checked(*, participant_id, epoch: int) -> None:
    """The connection's right was looked up again, as of ``epoch``: its updates are stored again unless the
    access changed once more meanwhile (the epoch moved on)."""
    CoeditParticipant.objects.filter(pk=participant_id).update(checked_epoch=epoch)


def participants_recheck(*, space_id: int | None) -> int:
    """Inside the transaction of an access change (portal.collab.receivers): the connections of that space
    (of every space: None) store nothing more until their right was looked up again."""
    participants = CoeditParticipant.objects.all()
    if space_id is not None:
        participants = participants.filter(session__node__space_id=space_id)
    return participants.update(access_epoch=F("access_epoch") + 1)


# --- Writing versions -------------------------------------------------------------------


def _may_write(user, node: Node) -> bool:
    try:
        space_access(user, node.space_id, Cap.FILE_WRITE)
    except PortalError:
        return False
    return user.is_active


def _saver(node: Node, author_ids: list[int], editors: list):
    """Who writes the version: of the people who may still write the file, the
    most recent author holding a coedit lock on it, else any lock holder,
    else the most recent author, else anyone who edited in the session (who
    then need no lock: nobody else edits). (None, []) when nobody may."""
    holders = {lock.owner_id: lock for lock in Lock.objects.select_related("owner").filter(
        node=node, kind=LockKind.COEDIT, expires_at__gt=timezone.now())}
    ordered = [holders[author] for author in author_ids if author in holders]
    ordered += [lock for owner, lock in holders.items() if owner not in author_ids]
    for lock in ordered:
        if _may_write(lock.owner, node):
            return lock.owner, [lock.token]
    users = {user.pk: user for user in get_user_model().objects.filter(pk__in=author_ids)}
    others = [user for user in editors if user.pk not in users]
    for user in [users[author] for author in author_ids if author in users] + others:
        if user.pk not in holders and _may_write(user, node):
            return user, []
    return None, []


def session_save(*, session_id: int, reason: str = "periodic") -> FileVersion | None:
    """Write the session's document as the file's next version when it
    changed since the last one, with everyone whose updates it holds as
    co-authors; then compact the stored updates into one. None when nothing
    changed (or nobody may write it any more: the updates stay stored).
    Saves of one session queue on its row: a second finds nothing left to write."""
    with transaction.atomic():
        session = CoeditSession.objects.select_for_update(of=("self",)).select_related(
            "node__space", "node__current_version__blob").filter(pk=session_id).first()
        return _save(session, reason) if session is not None else None


def _save(session: CoeditSession, reason: str) -> FileVersion | None:
    rows = list(CoeditUpdate.objects.filter(session=session).order_by("id").values_list("id", "data", "author_id"))
    if not rows or rows[-1][0] <= session.saved_through:
        return None
    last_id = rows[-1][0]
    text = document.text_from(bytes(data) for _, data, _ in rows)
    new_authors = []
    for _, _, author in reversed([row for row in rows if row[0] > session.saved_through]):
        if author is not None and author not in new_authors:
            new_authors.append(author)  # most recent first
    node = session.node
    data = text.encode("utf-8")
    if node.trashed_at is not None:
        return None
    if _current_bytes(node) == data:
        _mark_saved(session, last_id, rows)
        CoeditSession.objects.filter(pk=session.pk).update(base_version=node.current_version)
        return None
    actor, tokens = _saver(node, new_authors, list(session.editors.all()))
    if actor is None:
        logger.warning("co-editing session %s: nobody left who may write %s", session.pk, node.pk)
        return None
    coauthors = list(_users_in_order(new_authors))

    def finish(version: FileVersion) -> None:
        version.coauthors.set(coauthors)
        record(action=Action.COEDIT_SAVED, actor=actor, target=node, target_label=names.join(path_names_of(node)),
               space=node.space, details={"session": session.pk, "version": version.number, "reason": reason,
                                          "coauthors": ", ".join(user.get_username() for user in coauthors)})
        _mark_saved(session, last_id, rows)
        CoeditSession.objects.filter(pk=session.pk).update(base_version=version)  # the document is this version now

    try:
        return file_put(actor=actor, space_id=node.space_id, path=names.join(path_names_of(node)),
                        fileobj=io.BytesIO(data), size=len(data), lock_tokens=tokens,
                        details={"coedit_session": session.pk}, before_commit=finish)
    except (PortalError, NotFound) as refused:
        logger.warning("co-editing session %s could not write %s: %s", session.pk, node.pk, refused)
        return None


def _users_in_order(author_ids: list[int]):
    users = {user.pk: user for user in get_user_model().objects.filter(pk__in=author_ids)}
    return (users[pk] for pk in author_ids if pk in users)


def _current_bytes(node: Node) -> bytes | None:
    version = node.current_version
    if version is None:
        return b""
    if version.size > settings.COEDIT_MAX_BYTES * 4:
        return None
    with placement_open(version.blob.placement) as stream:
        return stream.read()


def _mark_saved(session: CoeditSession, last_id: int, rows: list[tuple]) -> None:
    """The session is saved through ``last_id``; its updates up to there become one (same id, so later ones
    keep their order and a concurrent append is never folded in)."""
    merged = document.merged([bytes(data) for pk, data, _ in rows if pk <= last_id])
    CoeditUpdate.objects.filter(pk=last_id).update(data=merged)
    CoeditUpdate.objects.filter(session=session, pk__lt=last_id).delete()
    CoeditSession.objects.filter(pk=session.pk).update(saved_through=last_id, saved_at=timezone.now())


# --- Closing, heartbeat, sweep -----------------------------------------------------------


def session_close(*, session_id: int) -> bool:
    """End a session nobody is connected to: write what is unsaved, drop the
    file's coedit locks. False (nothing done) while anyone is still connected."""
    if CoeditParticipant.objects.filter(session_id=session_id).exists():
        return False
    session_save(session_id=session_id, reason="closed")
    with transaction.atomic():
        session = CoeditSession.objects.select_for_update().filter(pk=session_id, state=SessionState.OPEN).first()
        if session is None or CoeditParticipant.objects.filter(session=session).exists():
            return False
        session.state, session.ended_at = SessionState.CLOSED, timezone.now()
        session.save(update_fields=["state", "ended_at"])
        Lock.objects.filter(node_id=session.node_id, kind=LockKind.COEDIT).delete()
        if session.saved_through >= (session.updates.aggregate(last=Max("id"))["last"] or 0):
            session.updates.all().delete()  # all in the version; unsaved updates stay for an administrator
    return True


def heartbeat(*, participant_ids: list) -> set:
    """A server's connections are alive: their participants are seen now and
    their owners' coedit locks extended. Returns the ids that no longer exist
    (swept while the server was away: it must close them)."""
    now = timezone.now()
    alive = set(CoeditParticipant.objects.filter(pk__in=participant_ids).values_list("pk", flat=True))
    CoeditParticipant.objects.filter(pk__in=alive).update(seen_at=now)
    editors = CoeditParticipant.objects.filter(pk__in=alive, can_edit=True).values_list(
        "session__node_id", "user_id", "link__created_by_id")
    for node_id, user_id, creator_id in set(editors):
        Lock.objects.filter(node_id=node_id, owner_id=user_id or creator_id, kind=LockKind.COEDIT).update(
            refreshed_at=now, expires_at=now + timedelta(seconds=settings.COEDIT_LOCK_SECONDS))
    return set(participant_ids) - alive


def sweep(*, now=None) -> dict[str, int]:
    """The system: participants whose server stopped answering leave; open
    sessions nobody is in close; sessions edited for longer than
    ``COEDIT_SAVE_MINUTES`` since their last version get one. Safe to run twice."""
    now = now or timezone.now()
    counts = {"left": 0, "closed": 0, "saved": 0}
    stale = now - timedelta(seconds=3 * settings.COEDIT_HEARTBEAT_SECONDS)
    for participant_id in CoeditParticipant.objects.filter(seen_at__lt=stale).values_list("pk", flat=True):
        counts["left"] += participant_leave(participant_id=participant_id, reason="connection_lost")
    quiet = now - timedelta(seconds=max(settings.COEDIT_CLOSE_GRACE_SECONDS, 1) + 60)
    empty = CoeditSession.objects.filter(state=SessionState.OPEN, started_at__lt=quiet).exclude(
        participants__isnull=False)
    for session_id in empty.values_list("pk", flat=True):
        counts["closed"] += session_close(session_id=session_id)
    due = now - timedelta(minutes=settings.COEDIT_SAVE_MINUTES)
    for session_id in CoeditSession.objects.filter(state=SessionState.OPEN, saved_at__lt=due).values_list(
            "pk", flat=True):
        counts["saved"] += session_save(session_id=session_id, reason="periodic") is not None
    return counts
