"""Scanning new versions, and the administrators' review of what was flagged.

``scan_queue`` is called by the files app in the transaction that creates a
version; the ``scanning.scan_version`` task then runs ``scan_version``.
Every verdict change records its audit event in the same transaction.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from portal.audit.actions import Action
from portal.audit.models import Outcome
from portal.audit.services import record
from portal.core.access import is_admin
from portal.core.bulk import rows_create
from portal.core.errors import Conflict, Forbidden, NotFound
from portal.files import names
from portal.files.models import FileVersion
from portal.files.selectors import path_names_of
from portal.files.services.common import schedule_blob_collection
from portal.spaces.quota import lock_spaces, release_quota
from portal.files.services.tree import purge
from portal.scanning.models import FLAGGED_BY_CONTENT, ScanState, ScanVerdict
from portal.scanning.scanners import Content, ScannerUnavailable, configured_scanners
from portal.storage import ObjectNotFound
from portal.storage.tiers import placement_open
from portal.outbox.services import enqueue

logger = logging.getLogger(__name__)
FAIL_OPEN, FAIL_CLOSED = "open", "closed"


def version_label(version: FileVersion) -> str:
    try:
        path = names.join(path_names_of(version.node))
    except NotFound:   # in the trash: its name is all there is
        path = version.node.name
    return f"{path} v{version.number}"


def scan_queue(version: FileVersion, *, label: str | None = None, via_share: bool = False) -> ScanVerdict:
    """Inside the transaction that made ``version``: a pending verdict, and the
    scan queued once it commits. Uploads through share links always fail
    closed; members' follow PORTAL_SCAN_FAIL_MODE. ``label``: the file's path
    when the caller knows it."""
    fail_closed = via_share or settings.SCAN_FAIL_MODE == FAIL_CLOSED
    label = f"{label} v{version.number}" if label is not None else version_label(version)
    verdict = ScanVerdict.objects.create(version=version, label=label[:512],
                                         fail_closed=fail_closed, via_share=via_share)
    from portal.scanning.tasks import scan_version as task

    enqueue(task, version.pk)
    return verdict


def scan_queue_many(versions: list[FileVersion], *, labels: dict[int, str]) -> list[ScanVerdict]:
    """scan_queue for many new versions of members' files (``labels``: version id ->
    the file's path): their pending verdicts in one statement, their scans
    queued with one message (fan_out, in the transaction)."""
    fail_closed = settings.SCAN_FAIL_MODE == FAIL_CLOSED
    verdicts = rows_create([
        ScanVerdict(version=version, label=f"{labels[version.pk]} v{version.number}"[:512], fail_closed=fail_closed)
        for version in versions])
    from portal.core.tasks import fan_out

    fan_out("scanning.scan_version", [version.pk for version in versions])
    return verdicts


def _content(version: FileVersion) -> Content:
    placement = version.blob.placement

    def opener():
        with placement_open(placement) as stream:
            yield from stream

    return Content(name=version.node.name, size=version.size, opener=opener, sha256=version.blob.sha256 or None)


def _run_scanners(content: Content) -> tuple[str, str, str]:
    """(scanner, signature, error): the first finding wins over any error."""
    errors = []
    for scanner in configured_scanners():
        try:
            signature = scanner.scan(content)
        except (ScannerUnavailable, ObjectNotFound) as exc:
            logger.warning("scanner %s failed on %s: %s", scanner.name, content.name, exc)
            errors.append((scanner.name, str(exc)))
            continue
        if signature:
            return scanner.name, signature, ""
    return (errors[0][0], "", errors[0][1][:255]) if errors else ("", "", "")


def scan_version(version_id: int) -> str:
    """The system scans one version (safe to run twice: a version already
    clean, flagged or reviewed is left alone). Returns the verdict's state."""
    version = FileVersion.objects.select_related("node", "blob").filter(pk=version_id).first()
    if version is None:
        return "gone"
    verdict, _ = ScanVerdict.objects.get_or_create(
        version=version, defaults={"label": version_label(version)[:512],
                                   "fail_closed": settings.SCAN_FAIL_MODE == FAIL_CLOSED})
    if verdict.state not in (ScanState.PENDING, ScanState.ERROR):
        return verdict.state
    scanner, signature, error = _run_scanners(_content(version))
    with transaction.atomic():
        verdict = ScanVerdict.objects.select_for_update().get(pk=verdict.pk)
        if verdict.state not in (ScanState.PENDING, ScanState.ERROR):
            return verdict.state
        was_error = verdict.state == ScanState.ERROR
        verdict.scanner, verdict.signature, verdict.error = scanner, signature, error
        verdict.scanned_at = timezone.now()
        if signature:
            verdict.state = ScanState.FLAGGED
        elif error:
            verdict.state = ScanState.ERROR
        else:
            verdict.state = ScanState.CLEAN
        verdict.save(update_fields=["state", "scanner", "signature", "error", "scanned_at"])
        if verdict.state == ScanState.FLAGGED:
            _flagged(verdict, version)
        elif verdict.state == ScanState.ERROR and not was_error:
            _failed(verdict, version)
    return verdict.state


def _event(action: str, verdict: ScanVerdict, version: FileVersion | None, *, actor=None,
           outcome: str = Outcome.SUCCESS, **details) -> None:
    node = version.node if version is not None else None
    record(action=action, actor=actor, target=node, target_label=verdict.label,
           space=node.space if node is not None else None, outcome=outcome,
           details={"verdict": verdict.pk, "version": version.number if version else None, **details})


def _flagged(verdict: ScanVerdict, version: FileVersion) -> None:
    _event(Action.SCAN_FLAGGED, verdict, version, outcome=Outcome.FAILURE, scanner=verdict.scanner,
           signature=verdict.signature)
    _event(Action.SCAN_QUARANTINED, verdict, version, outcome=Outcome.DENIED, via_share=verdict.via_share)
    uploader = version.created_by
    if uploader is not None and uploader.email:
        label, signature, email = verdict.label, verdict.signature, uploader.email
        subject = gettext("Your file %(name)s was quarantined") % {"name": label}
        message = gettext("The content scanner flagged %(name)s (%(signature)s). It cannot be downloaded, previewed "
                          "or shared until an administrator reviews it. If you believe this is a mistake, ask "
                          "an administrator to release it; otherwise delete the file.") % {
            "name": label, "signature": signature}
        transaction.on_commit(lambda: send_mail(subject=subject, message=message, from_email=None,
                                                recipient_list=[email], fail_silently=True))


def _failed(verdict: ScanVerdict, version: FileVersion) -> None:
    _event(Action.SCAN_ERROR, verdict, version, outcome=Outcome.FAILURE, scanner=verdict.scanner,
           error=verdict.error)
    action = Action.SCAN_FAILED_CLOSED if verdict.fail_closed else Action.SCAN_FAILED_OPEN
    _event(action, verdict, version, outcome=Outcome.DENIED if verdict.fail_closed else Outcome.SUCCESS,
           via_share=verdict.via_share, policy=FAIL_CLOSED if verdict.fail_closed else FAIL_OPEN)


# --- the review queue -----------------------------------------------------------------

def _reviewable(actor, verdict_id) -> ScanVerdict:
    """The flagged verdict, locked."""
    if not is_admin(actor):
        raise Forbidden(gettext("Only administrators review quarantined files."), code="not_admin")
    verdict = (ScanVerdict.objects.select_for_update(of=("self",)).select_related("version__node__space")
               .filter(pk=verdict_id).first())
    if verdict is None:
        raise NotFound(gettext("No such scan verdict."))
    if verdict.state != ScanState.FLAGGED or verdict.version is None:
        raise Conflict(gettext("This file is %(state)s, not quarantined; there is nothing to review.") % {"state": verdict.state},
                       code="not_quarantined")
    return verdict


def _review(verdict: ScanVerdict, state: str, action: str, actor, now) -> None:
    verdict.state, verdict.reviewed_by, verdict.reviewed_at = state, actor, now
    verdict.save(update_fields=["state", "reviewed_by", "reviewed_at"])
    _event(action, verdict, verdict.version, actor=actor, signature=verdict.signature)


@transaction.atomic
def quarantine_release(*, actor, verdict_id) -> ScanVerdict:
    """An administrator releases a flagged file (a false positive): it can be
    downloaded and shared again. A finding by content was about the bytes, so
    every version flagged by content for the same bytes is released with it;
    a finding by name releases that version only."""
    verdict = _reviewable(actor, verdict_id)
    now = timezone.now()
    released = [verdict]
    if verdict.by_content:
        released += list(ScanVerdict.objects.select_for_update(of=("self",)).select_related("version__node__space")
                         .filter(FLAGGED_BY_CONTENT, version__blob_id=verdict.version.blob_id)
                         .exclude(pk=verdict.pk).order_by("pk"))
    from portal.previews.services import thumbnail_queue

    for other in released:
        _review(other, ScanState.RELEASED, Action.SCAN_RELEASED, actor, now)
        thumbnail_queue(other.version_id)  # released bytes are clean bytes: their derived files may be made
    verdict.refresh_from_db()
    return verdict


@transaction.atomic
def quarantine_delete(*, actor, verdict_id) -> ScanVerdict:
    """An administrator deletes the flagged version they chose from the queue,
    and only that one (its file is purged when it has no other version,
    otherwise its newest remaining version becomes current). Nothing the
    administrator did not see is ever removed: other versions holding the
    same bytes (other users', other spaces') stay. When the finding was about
    the content, those stay quarantined, each with a flagged verdict of its
    own in the review queue, to be released or deleted on their own."""
    verdict = _reviewable(actor, verdict_id)
    version = verdict.version
    if verdict.by_content:
        _flag_same_bytes(verdict)
    _review(verdict, ScanState.DELETED, Action.SCAN_DELETED, actor, timezone.now())
    _drop_version(version, actor=actor)
    verdict.refresh_from_db()
    return verdict


def _flag_same_bytes(verdict: ScanVerdict) -> None:
    """Every other version holding the flagged bytes and not flagged on its
    own gets its own flagged verdict (so it stays in, and shows in the queue,
    once this verdict's version is gone)."""
    others = (FileVersion.objects.filter(blob_id=verdict.version.blob_id).exclude(pk=verdict.version_id)
              .exclude(scan__state=ScanState.FLAGGED).select_related("node__space", "created_by").order_by("pk"))
    for other in others:
        mine, _ = ScanVerdict.objects.select_for_update(of=("self",)).get_or_create(
            version=other, defaults={"label": version_label(other)[:512]})
        mine.state, mine.scanner, mine.signature, mine.error = (ScanState.FLAGGED, verdict.scanner,
                                                                verdict.signature, "")
        mine.scanned_at, mine.reviewed_by, mine.reviewed_at = timezone.now(), None, None
        mine.save(update_fields=["state", "scanner", "signature", "error", "scanned_at", "reviewed_by",
                                 "reviewed_at"])
        _flagged(mine, other)


def _drop_version(version: FileVersion, *, actor) -> None:
    """A legal hold or a retention wins over the quarantine: the version stays (quarantined, unreadable)."""
    from portal.governance.selectors import protection, refuse_purge  # governance builds on files

    node = version.node
    found = protection([node.pk])
    if found.version_blocked(version.pk, node.pk):
        refuse_purge(found, label=node.name, node_ids=[node.pk])
    remaining = node.versions.exclude(pk=version.pk).order_by("-number").first()
    if remaining is None:
        purge(node, actor=actor)
        return
    space = lock_spaces(node.space_id)[node.space_id]
    if node.current_version_id == version.pk:
        node.current_version, node.size = remaining, remaining.size
        node.save(update_fields=["current_version", "size"])
    FileVersion.objects.filter(pk=version.pk).delete()
    release_quota(space, version.size)
    schedule_blob_collection()
