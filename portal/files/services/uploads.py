"""Resumable uploads: start a session, send parts (straight to the object
store), complete or abort.

Completion runs in three steps so that nothing half-done is ever visible:
1. mark the session ``completing`` (committed) once every part is there;
2. ask the store to assemble the object;
3. in one transaction, re-check the quota under the space's row lock and
   create the version.
A crash after 1 or 2 leaves a session that ``complete`` can simply be called
on again. A completing session is never aborted in the store (SeaweedFS
destroys a completed object when a leftover upload record is aborted); the
sweep removes its object instead if it never became a version.
"""

from __future__ import annotations

import io
import math
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from portal.audit.actions import Action
from portal.audit.services import record
from portal.core.access import Cap, is_admin
from portal.core.errors import Conflict, Forbidden, InvalidInput, NotFound, PortalError
from portal.core.validation import whole_number
from portal.files import names
from portal.files.models import Blob, FileVersion, Node, NodeKind, UploadSession, UploadState
from portal.files.selectors import locate_in, locate_path, path_walk, stored_names
from portal.files.services.common import new_blob_key, refuse_too_large
from portal.files.services.tree import ensure_folders
from portal.files.services.upload_release import release_now_or_later
from portal.locks import selectors as lock_selectors
from portal.locks.models import LockDepth
from portal.locks.selectors import ensure_writable
from portal.locks.services import records_lock_refusals
from portal.spaces.quota import charge_quota, check_quota, lock_space_charging, refuse_archived, release_quota
from portal.spaces.selectors import SpaceAccess, actor_role, space_access
from portal.scanning import selectors as scan_selectors
from portal.storage import Part, UploadNotFound, get_store
from portal.storage.base import MAX_PARTS, MIN_PART_SIZE, normalize_etag
from portal.outbox.services import enqueue

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def plan_parts(size: int) -> tuple[int, int]:
    """(part size, part count): the configured size, grown when a huge file
    would need more than the store's 10,000 parts."""
    mib = 1024 * 1024
    part_size = max(settings.UPLOAD_PART_SIZE, MIN_PART_SIZE, math.ceil(size / MAX_PARTS / mib) * mib)
    return part_size, (math.ceil(size / part_size) if size else 0)


def _clean_sha256(value) -> str:
    if value in (None, ""):
        return ""
    if not isinstance(value, str) or not _SHA256.match(value.lower()):
        raise InvalidInput(gettext("sha256 must be 64 hexadecimal characters."), code="invalid_sha256")
    return value.lower()


def _refuse_file_in_the_way(chain: list[Node], path_names: list[str]) -> None:
    """Conflict when the walk stopped at a file where a folder must be."""
    if len(chain) <= len(path_names) and not chain[-1].is_folder:
        raise Conflict(gettext("%(join)s is a file, not a folder.") % {"join": names.join(stored_names(chain))}, code="not_a_folder")


def _refuse_new_names(chain: list[Node], path_names: list[str]) -> None:
    """Names the upload would create obey every rule; existing ones (maybe
    stored before a rule) may still be written to."""
    if chain[-1].is_folder:
        for new in path_names[len(chain) - 1:]:
            names.clean_name(new)


def _current_number(chain: list[Node], path_names: list[str]) -> int | None:
    """The version number of the file at the path (None: no file there yet)."""
    if len(chain) <= len(path_names):
        return None
    version = chain[-1].current_version if chain[-1].current_version_id else None
    return version.number if version else None


def _check_target(chain: list[Node], path_names: list[str], if_match: int | None) -> None:
    """Refuse early what complete would refuse anyway: a file or folder in the
    way, a stale if_match."""
    _refuse_file_in_the_way(chain, path_names)
    if len(chain) > len(path_names) and chain[-1].is_folder:
        raise Conflict(gettext("%(join)s is a folder.") % {"join": names.join(path_names)}, code="is_a_folder")
    current = _current_number(chain, path_names)
    if if_match is not None and current != if_match:
        raise Conflict(gettext("%(join)s is at version %(current)s, not %(if_match)s; fetch it again and merge your changes.") % {"join": names.join(path_names), "current": current, "if_match": if_match}, code="version_mismatch",
                       detail={"current_version": current})


def refuse_locked(actor, access: SpaceAccess, chain: list[Node], path_names: list[str], lock_tokens) -> list:
    """Someone else's live lock on the file (or on the folder it would be
    added to) refuses the write; ``chain``: the walk from the root towards
    ``path_names`` (a write walks with ``path_walk(..., hold=True)``, its rows
    held in the walk's own query; an early check before anything is written
    walks without). A file in the way of the folders is left to
    _check_target. Returns the live locks that cover the file (or will, once
    it is made)."""
    target = chain[-1]
    if not target.is_folder and len(chain) <= len(path_names):
        return []
    if target.is_folder:  # the file will be new: the folder's locks that reach into it cover it
        locks = ensure_writable(locate_in(access, target, stored_names(chain)), actor=actor, tokens=lock_tokens,
                                operation="add", chain_ids=[node.pk for node in chain])
        return [lock for lock in locks if lock.depth == LockDepth.INFINITY]
    return ensure_writable(locate_in(access, target, stored_names(chain)), actor=actor, tokens=lock_tokens,
                           operation="upload", chain_ids=[node.pk for node in chain], hold=False)


@records_lock_refusals
@transaction.atomic
def upload_start(*, actor, space_id, path: str, size, sha256=None, if_match=None, lock_tokens=()) -> UploadSession:
    """Editors start uploading a file (a new one, or a new version of one),
    also into a folder shared with them as editors (or over a file shared so)."""
    try:
        access = space_access(actor, space_id, Cap.FILE_WRITE)
    except (NotFound, Forbidden) as refused:
        access = _shared_write_access(actor, space_id, path, refused)
    space = access.space
    refuse_archived(space)
    path_names = names.split_path(path, existing=True)
    if not path_names:
        raise InvalidInput(gettext("The path must end with the file's name."), code="invalid_path")
    size = whole_number(size, field="size", minimum=0)
    refuse_too_large(size)
    if if_match is not None:
        if_match = whole_number(if_match, field="if_match", minimum=1)
    sha256 = _clean_sha256(sha256)
    chain = path_walk(space, path_names, hold=True)
    _refuse_new_names(chain, path_names)
    _check_target(chain, path_names, if_match)
    refuse_locked(actor, access, chain, path_names, lock_tokens)
    check_quota(space, size)
    part_size, part_count = plan_parts(size)
    key = new_blob_key()
    multipart_id = get_store().multipart_start(key, part_size=part_size) if part_count else ""
    return UploadSession.objects.create(
        space=space, created_by=actor, path=names.join(path_names), size=size, sha256=sha256, if_match=if_match,
        part_size=part_size, part_count=part_count, key=key, multipart_id=multipart_id,
        expires_at=timezone.now() + timedelta(hours=settings.UPLOAD_SESSION_HOURS))


def _shared_write_access(actor, space_id, path: str, refused: PortalError) -> SpaceAccess:
    """Writing at ``path`` through an internal share (portal.shares) of the
    file there, or of its folder or one above: the share's role in the space,
    for this write only. Anything else: ``refused`` (the space's own answer)."""
    try:
        path_names = names.split_path(path, existing=True)
    except InvalidInput:
        raise refused from None
    for candidate in ([path_names, path_names[:-1]] if path_names else []):
        try:
            located = locate_path(actor, space_id, names.join(candidate), Cap.FILE_WRITE)
        except NotFound:
            continue  # a new file: its folder, next
        if located.scoped and (located.node.is_folder or candidate is path_names):
            return SpaceAccess(space=located.space, role=located.role, admin=False)
    raise refused


def _session_and_access(actor, upload_id, *, lock: bool, writing: bool) -> tuple[UploadSession, SpaceAccess]:
    """The actor's own session with its space and the actor's role there, in
    one query; others' sessions are not found. With ``writing`` the actor must
    *still* be allowed to write there: removed since the start, "not found";
    demoted to viewer, 403."""
    try:
        upload_id = uuid.UUID(str(upload_id))
    except ValueError:
        raise NotFound(gettext("No such upload.")) from None
    role = actor_role(actor, f'"{UploadSession._meta.db_table}"."space_id"')
    sessions = UploadSession.objects.select_related("space").annotate(actor_role=role)
    if lock:
        sessions = sessions.select_for_update(of=("self",))
    session = sessions.filter(pk=upload_id, created_by=actor).first()
    if session is None or (writing and session.space.deleted_at is not None):  # a space trashed meanwhile
        raise NotFound(gettext("No such upload."))
    access = SpaceAccess(space=session.space, role=session.actor_role, admin=is_admin(actor))
    if writing and access.role is None:  # not a member: still an editor through a live share? (revoked: gone)
        try:
            access = _shared_write_access(actor, session.space_id, session.path, NotFound(gettext("No such upload.")))
        except NotFound:
            pass
    if writing:
        _require_write(access)
    return session, access


def _require_write(access: SpaceAccess) -> None:
    try:
        access.require(Cap.FILE_WRITE)
    except NotFound:
        raise NotFound(gettext("No such upload.")) from None


def access_upload(actor, upload_id, *, lock: bool = False, writing: bool = True) -> UploadSession:
    """An upload session of the actor's own; others' are not found. With
    ``writing`` (every step that hands out part URLs or makes a version) the
    actor must still be allowed to write in the session's space: a member
    removed since the start gets "not found", one demoted to viewer 403."""
    return _session_and_access(actor, upload_id, lock=lock, writing=writing)[0]


@dataclass
class PartReport:
    part_count: int
    received: list[int]
    wrong_size: list[int]
    ambiguous: list[int]
    parts: list[Part]

    @property
    def missing(self) -> list[int]:
        return sorted(set(range(1, self.part_count + 1)) - set(self.received) - set(self.ambiguous))


def _clean_etags(etags) -> dict[int, str]:
    """The client's ``[{"number", "etag"}]`` from its part PUTs, as {number: etag}."""
    if etags is None:
        return {}
    try:
        return {int(item["number"]): normalize_etag(str(item["etag"])) for item in etags}
    except (TypeError, KeyError, ValueError):
        raise InvalidInput(gettext('parts is a list of {"number", "etag"} objects.'), code="invalid_part") from None


def parts_report(session: UploadSession, etags: dict[int, str] | None = None) -> PartReport:
    """Which parts the store holds with exactly the announced size. A part
    sent more than once may be stored more than once (SeaweedFS keeps every
    upload): a copy of the wrong size is ignored, and two of the right size
    are ``ambiguous`` unless the client names one by its ETag, since a guess
    could silently store old bytes."""
    report = PartReport(part_count=session.part_count, received=[], wrong_size=[], ambiguous=[], parts=[])
    if session.state != UploadState.OPEN or not session.part_count:
        return report
    candidates: dict[int, dict[str, Part]] = {}
    for part in get_store().multipart_list_part_uploads(session.key, session.multipart_id):
        if 1 <= part.number <= session.part_count:
            candidates.setdefault(part.number, {})[normalize_etag(part.etag)] = part
    for number, by_etag in sorted(candidates.items()):
        if etags and number in etags:
            by_etag = {tag: part for tag, part in by_etag.items() if tag == etags[number]}
        fitting = [part for part in by_etag.values() if part.size == session.part_length(number)]
        if len(fitting) > 1:
            report.ambiguous.append(number)
        elif fitting:
            report.received.append(number)
            report.parts.append(fitting[0])
        elif by_etag:
            report.wrong_size.append(number)
    return report


def part_urls(session: UploadSession, numbers: list[int]) -> list[dict]:
    """Fresh URLs (they live at most five minutes) for the given parts."""
    if session.state != UploadState.OPEN:
        raise Conflict(gettext("This upload is %(state)s; no more parts can be sent.") % {"state": session.state}, code="upload_closed")
    for number in numbers:
        if not isinstance(number, int) or not 1 <= number <= session.part_count:
            raise InvalidInput(gettext("Part numbers run from 1 to %(part_count)s.") % {"part_count": session.part_count}, code="invalid_part",
                               detail={"part": number})
    store = get_store()
    return [{"number": n, "size": session.part_length(n),
             "url": store.multipart_part_url(session.key, session.multipart_id, n)} for n in numbers]


def _refuse_closed(session: UploadSession) -> None:
    if session.state in (UploadState.ABORTED, UploadState.EXPIRED):
        raise Conflict(gettext("This upload was %(state)s; start a new one.") % {"state": session.state}, code="upload_closed")


def _claim(actor, upload_id, etags: dict[int, str] | None = None,
           lock_tokens=()) -> tuple[UploadSession, list[Part] | None]:
    """Step 1: with every part present, mark the session completing."""
    with transaction.atomic():
        session, access = _session_and_access(actor, upload_id, lock=True, writing=True)
        _refuse_closed(session)
        if session.state != UploadState.OPEN:
            return session, None
        path_names = names.split_path(session.path, existing=True)
        if lock_selectors.any_live_lock_along(session.space_id, [names.name_key(name) for name in path_names]):
            refuse_locked(actor, access, path_walk(session.space, path_names), path_names, lock_tokens)
        report = parts_report(session, etags)
        if report.ambiguous:
            raise Conflict(gettext('Parts %(ambiguous)s were sent more than once and the store kept every copy; complete again with the ETags your PUTs returned: {"parts": [{"number", "etag"}]}.') % {"ambiguous": report.ambiguous},
                           code="ambiguous_parts", detail={"ambiguous": report.ambiguous})
        if report.missing:
            raise InvalidInput(gettext("%(count)s of %(part_count)s parts are missing or have the wrong size; send them, then complete again.") % {"count": len(report.missing), "part_count": session.part_count}, code="parts_missing",
                               detail={"missing": report.missing, "wrong_size": report.wrong_size})
        session.state, session.completing_at = UploadState.COMPLETING, timezone.now()
        session.save(update_fields=["state", "completing_at"])
        return session, report.parts


def _assemble(session: UploadSession, parts: list[Part] | None) -> None:
    """Step 2: the store puts the object together (again, after a crash: idempotent)."""
    store = get_store()
    if session.part_count == 0:
        if not store.exists(session.key):
            store.put(session.key, io.BytesIO(b""))
        return
    if parts is None:  # a retry: the parts are still there unless the store already assembled them
        try:
            parts = store.multipart_list_parts(session.key, session.multipart_id)
        except UploadNotFound:
            parts = None
    if parts is not None:
        try:
            store.multipart_complete(session.key, session.multipart_id, [(p.number, p.etag) for p in parts])
        except UploadNotFound:
            pass  # completed by an earlier attempt that crashed before step 3
    if store.size(session.key) != session.size:
        raise Conflict(gettext("The stored file does not have the announced size; start the upload again."),
                       code="size_mismatch")


def after_new_version(version, *, label: str, via_share: bool = False):
    """Inside the transaction that made ``version``: its bytes are hashed and
    scanned once it commits (``label``: the file's path, for the verdict).
    Returns the pending scan verdict."""
    from portal.files.tasks import hash_blob
    from portal.scanning.services import scan_queue

    enqueue(hash_blob, version.blob_id)
    return scan_queue(version, label=label, via_share=via_share)


@dataclass(frozen=True)
class NewVersion:
    """What version_add made, and the file's path as stored."""

    version: FileVersion
    path_names: list[str]

    @property
    def path(self) -> str:
        return names.join(self.path_names)


def version_add(*, actor, space, path_names: list[str], chain: list[Node], key: str, size: int,
                sha256: str = "", if_match: int | None = None, quota_charged: bool = False) -> NewVersion:
    """Make the stored object ``key`` the next version of the file at
    ``path_names`` (creating the file and its folders); ``chain``: the walk
    towards it, made under the space's row lock (lock_spaces). Callers hold
    that lock and have checked the actor's rights (``quota_charged``: and
    charged the bytes already). Every refusal is raised before anything is written."""
    path = names.join(path_names)
    _refuse_file_in_the_way(chain, path_names)
    exists = len(chain) > len(path_names)
    if exists and chain[-1].is_folder:
        raise Conflict(gettext("%(path)s is now a folder.") % {"path": path}, code="is_a_folder")
    current = _current_number(chain, path_names)
    if if_match is not None and current != if_match:
        raise Conflict(gettext("%(path)s changed to version %(current)s during the upload; fetch it again and merge your changes.") % {"path": path, "current": current}, code="version_mismatch", detail={"current_version": current})
    _refuse_new_names(chain, path_names)  # new names obey every rule; refused before any folder is made
    if not quota_charged:
        check_quota(space, size)
    parent, parent_names, _ = ensure_folders(space, path_names[:-1], actor, chain=chain[:len(path_names)])
    if not quota_charged:
        charge_quota(space, size)
    node = chain[-1] if exists else Node.objects.create(
        space=space, parent=parent, kind=NodeKind.FILE, name=path_names[-1],
        name_key=names.name_key(path_names[-1]), created_by=actor)
    blob = Blob.objects.create(key=key, size=size, expected_sha256=sha256)
    version = FileVersion.objects.create(node=node, number=(current or 0) + 1, blob=blob, size=size,
                                         created_by=actor)
    node.current_version, node.size, node.modified_at = version, size, version.created_at
    node.save(update_fields=["current_version", "size", "modified_at"])
    return NewVersion(version=version, path_names=[*parent_names, node.name])


@dataclass(frozen=True)
class Uploaded:
    """A completed upload as its answer shows it, with nothing left to look up."""

    version: FileVersion
    path_names: list[str] | None  # None: completed earlier (a repeated complete)
    lock: dict | None = None
    scan: dict | None = None


def _record(actor, claimed: UploadSession, lock_tokens=()) -> Uploaded:
    """Step 3: the version, the quota and the audit event, in one transaction.
    A refusal here (quota, a folder in the way, if_match) closes the session
    and removes its bytes: they can never become this version. A lock taken
    meanwhile only refuses for now: complete again once it is released."""
    with transaction.atomic():
        # The space's row is locked first (charging the bytes in the same statement), then the
        # session and the right to write are read under it: member changes take that lock too.
        space, fits = lock_space_charging(claimed.space_id, claimed.size)
        session, access = _session_and_access(actor, claimed.pk, lock=True, writing=True)
        if session.state == UploadState.COMPLETED:
            release_quota(space, session.size)
            return Uploaded(version=_made_version(session), path_names=None)
        if session.state != UploadState.COMPLETING:  # swept or refused meanwhile: its bytes are gone
            _refuse_closed(session)
        path_names = names.split_path(session.path, existing=True)
        chain = path_walk(space, path_names, hold=True)
        covering = refuse_locked(actor, access, chain, path_names, lock_tokens)
        try:
            if not fits:
                release_quota(space, session.size)
                check_quota(space, session.size)
            refuse_archived(space)
            made = version_add(actor=actor, space=space, path_names=path_names, chain=chain, key=session.key,
                               size=session.size, sha256=session.sha256, if_match=session.if_match,
                               quota_charged=True)
        except PortalError as refusal:  # raised before any write but the charge: give it back, close the session
            if fits:
                release_quota(space, session.size)
            session.state = UploadState.ABORTED
            session.save(update_fields=["state"])
            failed = refusal
        else:
            version = made.version
            session.state, session.completed_at, session.version = UploadState.COMPLETED, timezone.now(), version
            session.save(update_fields=["state", "completed_at", "version"])
            record(action=Action.FILE_UPLOADED, actor=actor, target=version.node, target_label=made.path,
                   space=space, details={"version": version.number, "size": version.size})
            verdict = after_new_version(version, label=made.path)
            return Uploaded(version=version, path_names=made.path_names,
                            lock=lock_selectors.summary_of(covering, viewer=actor),
                            scan=scan_selectors.fresh_summary(verdict))
    release_now_or_later(session)  # the closed session is committed: its bytes can never be a version
    raise failed


def _made_version(session: UploadSession) -> FileVersion:
    if session.version is None:
        raise NotFound(gettext("The file this upload made has since been purged."), code="version_purged")
    return session.version


def upload_complete(*, actor, upload_id, etags=None, lock_tokens=()) -> FileVersion:
    """The uploader completes their upload (see upload_finish); the version."""
    return upload_finish(actor=actor, upload_id=upload_id, etags=etags, lock_tokens=lock_tokens).version


@records_lock_refusals
def upload_finish(*, actor, upload_id, etags=None, lock_tokens=()) -> Uploaded:
    """The uploader completes their upload, optionally naming each part by the
    ETag its PUT returned; calling it again returns the same version. The
    answer carries the file's path, lock and scan state as the completion saw them."""
    session, parts = _claim(actor, upload_id, _clean_etags(etags), lock_tokens)
    if session.state == UploadState.COMPLETED:
        return Uploaded(version=_made_version(session), path_names=None)
    _assemble(session, parts)
    return _record(actor, session, lock_tokens)


def upload_abort(*, actor, upload_id) -> UploadSession:
    """The uploader abandons an upload; its parts are removed from the store,
    now or, when the store is down, by the upload sweep once it is back."""
    with transaction.atomic():
        session = access_upload(actor, upload_id, lock=True, writing=False)  # dropping one's own parts is always fine
        if session.state in (UploadState.COMPLETING, UploadState.COMPLETED):
            raise Conflict(gettext("This upload was already completed; delete the file instead."), code="upload_completed")
        if session.state == UploadState.OPEN:
            session.state = UploadState.ABORTED
            session.save(update_fields=["state"])
            record(action=Action.UPLOAD_ABORTED, actor=actor, target_label=session.path,
                   space=session.space, details={"upload": str(session.pk)})
    if session.store_released_at is None and session.completing_at is None:  # never abort what may have completed
        release_now_or_later(session)
    return session
