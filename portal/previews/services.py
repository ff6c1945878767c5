"""Making derived files (thumbnails, PDF renditions) and recording views.

Derived files are made by the system (Celery tasks), once per version: a
row is claimed in state ``pending`` and filled exactly once; running a task
again finds it finished and does nothing. Quarantined or held versions get
none. Nothing a user acts on changes, so making them is not audited; a
user's view of a file is (``view_record``, like a download).
"""

from __future__ import annotations

import io
import logging
import tempfile
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image, ImageOps

from portal.audit.actions import Action
from portal.audit.models import AuditEvent
from portal.audit.services import record_read
from portal.core.errors import PortalError
from portal.files.models import FileVersion
from portal.files.selectors import Located
from portal.previews import kinds, office
from portal.previews.models import DerivedFile, DerivedKind, DerivedState
from portal.previews.signals import rendition_ready
from portal.scanning.selectors import is_quarantined
from portal.storage.tiers import placement_open
from portal.storage.derived import derived_storage
from portal.outbox.services import enqueue

logger = logging.getLogger(__name__)

THUMBNAIL_SIDE = 256
# Larger files are not read whole to make a thumbnail or a rendition.
MAX_SOURCE_BYTES = 64 * 1024 * 1024
# A rendition still pending after this many conversion time limits was lost with its worker.
REQUEUE_AFTER_TIMEOUTS = 5


def view_record(*, actor, located: Located, version: FileVersion) -> AuditEvent:
    """A member with file.read opened ``version`` of the located file in the
    viewer (its bytes or its rendition began to be served, or its text was
    shown). Views call it once per opening, like download_record."""
    return record_read(action=Action.FILE_VIEWED, actor=actor, target=located.node, target_label=located.path,
                       space=located.space, details={"version": version.number, "size": version.size})


def rendition_request(version: FileVersion) -> DerivedFile:
    """The PDF rendition of an Office version, asked for by a viewer: the
    existing row, or a pending one with its conversion queued (once)."""
    derived, created = DerivedFile.objects.get_or_create(version=version, kind=DerivedKind.PDF)
    if created or _lost(derived):
        from portal.previews.tasks import make_rendition

        enqueue(make_rendition, version.pk)
    return derived


def _lost(derived: DerivedFile) -> bool:
    """A pending conversion queued long ago whose task never finished (a
    worker died): claim a new attempt, once per waiting period."""
    if derived.state != DerivedState.PENDING:
        return False
    now = timezone.now()
    stale = now - timedelta(seconds=REQUEUE_AFTER_TIMEOUTS * settings.OFFICE_TIMEOUT)
    return bool(DerivedFile.objects.filter(pk=derived.pk, state=DerivedState.PENDING, created_at__lt=stale)
                .update(created_at=now))


def thumbnail_queue(version_id: int) -> None:
    """After a version was scanned clean: its thumbnail is made if it is an image."""
    version = FileVersion.objects.select_related("node").filter(pk=version_id).first()
    if version is not None and kinds.takes_thumbnail(version.node.name):
        from portal.previews.tasks import make_thumbnail

        enqueue(make_thumbnail, version_id)


def _claim(version_id: int, kind: str) -> tuple[FileVersion | None, DerivedFile | None]:
    """The version and its derived row of ``kind`` if it still has to be made."""
    version = FileVersion.objects.select_related("node", "blob").filter(pk=version_id).first()
    if version is None:
        return None, None
    derived, _ = DerivedFile.objects.get_or_create(version=version, kind=kind)
    if derived.state != DerivedState.PENDING:
        return version, None
    if is_quarantined(version):
        return version, None   # never made from quarantined or held bytes; a later scan queues it again
    return version, derived


def _finish(derived: DerivedFile, **fields) -> DerivedFile:
    """Fill a pending row once, whoever got there first."""
    fields["finished_at"] = timezone.now()
    updated = DerivedFile.objects.filter(pk=derived.pk, state=DerivedState.PENDING).update(**fields)
    if not updated and fields.get("name"):
        derived_storage().delete(fields["name"])   # another run finished first; keep its file
    derived.refresh_from_db()
    return derived


def _source_bytes(version: FileVersion) -> bytes:
    if version.size > MAX_SOURCE_BYTES:
        raise office.ConversionFailed(f"Files over {MAX_SOURCE_BYTES // 2**20} MiB get no preview.")
    with placement_open(version.blob.placement) as stream:
        return stream.read(version.size)


def _thumbnail_bytes(data: bytes) -> bytes:
    from portal.shares.previews import open_image  # the pixel-count check before decoding

    with open_image(data) as image:
        image.draft("RGB", (THUMBNAIL_SIDE, THUMBNAIL_SIDE))
        image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
        image = ImageOps.exif_transpose(image)
        out = io.BytesIO()
        image.convert("RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB").save(out, format="WEBP", quality=80)
        return out.getvalue()


def thumbnail_make(version_id: int) -> str:
    """The system makes the thumbnail of an image version (once). Returns the row's state."""
    version, derived = _claim(version_id, DerivedKind.THUMBNAIL)
    if derived is None:
        return "skipped" if version is None else DerivedFile.objects.get(
            version=version, kind=DerivedKind.THUMBNAIL).state
    if not kinds.takes_thumbnail(version.node.name):
        return _finish(derived, state=DerivedState.UNSUPPORTED).state
    try:
        body = _thumbnail_bytes(_source_bytes(version))
    except (PortalError, OSError, ValueError, Image.DecompressionBombError) as exc:
        logger.info("no thumbnail for version %s: %s", version_id, exc)
        return _finish(derived, state=DerivedState.FAILED, error=str(exc)[:255]).state
    name = derived_storage().save(f"thumbnails/{version.pk}.webp", ContentFile(body))
    return _finish(derived, state=DerivedState.READY, name=name, size=len(body), content_type="image/webp").state


def rendition_make(version_id: int) -> str:
    """The system makes the PDF rendition of an Office version (once). Returns the row's state."""
    version, derived = _claim(version_id, DerivedKind.PDF)
    if derived is None:
        return "skipped" if version is None else DerivedFile.objects.get(version=version, kind=DerivedKind.PDF).state
    if kinds.viewer_kind(version.node.name) != kinds.OFFICE:
        return _finish(derived, state=DerivedState.UNSUPPORTED).state
    if office.soffice_path() is None:
        return _finish(derived, state=DerivedState.UNSUPPORTED, error="LibreOffice is not installed.").state
    with _conversion_lease(version.pk) as mine:
        derived.refresh_from_db()
        if not mine or derived.state != DerivedState.PENDING:
            return derived.state   # another run is converting it, or has just finished
        try:
            body = _convert(version)
        except PortalError as exc:
            logger.info("no PDF rendition for version %s: %s", version_id, exc.message)
            return _finish(derived, state=DerivedState.FAILED, error=exc.message[:255]).state
        name = derived_storage().save(f"renditions/{version.pk}.pdf", ContentFile(body))
        state = _finish(derived, state=DerivedState.READY, name=name, size=len(body),
                        content_type="application/pdf").state
    if state == DerivedState.READY:
        rendition_ready.send(sender=DerivedFile, version_id=version.pk)
    return state


@contextmanager
def _conversion_lease(version_id: int):
    """Whether this run may convert ``version_id``: one LibreOffice per
    version at a time, across threads and workers (a task delivered twice, a
    requeued one). The lease (an atomic cache ``add``) outlives LibreOffice's
    own time limit, so a worker that died with it frees the version later."""
    key = f"previews:converting:{version_id}"
    mine = cache.add(key, 1, timeout=settings.OFFICE_TIMEOUT + 60)
    try:
        yield mine
    finally:
        if mine:
            cache.delete(key)


def _convert(version: FileVersion) -> bytes:
    suffix = Path(version.node.name).suffix.lower()
    with tempfile.TemporaryDirectory(prefix="coffer-source-") as work:
        source = Path(work) / f"document{suffix}"
        source.write_bytes(_source_bytes(version))
        return office.convert_to_pdf(source, timeout=settings.OFFICE_TIMEOUT, memory_mb=settings.OFFICE_MEMORY_MB)
