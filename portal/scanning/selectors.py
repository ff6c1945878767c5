"""Reads about quarantine. The checks the download, preview and share paths
call are here, each one small function: ``ensure_not_quarantined``."""

from __future__ import annotations

from django.db.models import QuerySet

from portal.core.errors import Forbidden
from portal.scanning.models import BLOCKING, ScanState, ScanVerdict


def _blocking_for_blob(blob_id) -> QuerySet:
    return ScanVerdict.objects.filter(BLOCKING, version__blob_id=blob_id)


def is_quarantined(version) -> bool:
    """Whether ``version``'s bytes may not leave the portal: a verdict on the
    same bytes (this version, or any version sharing its blob) is flagged, or
    still pending / failed where the policy fails closed."""
    if version is None:
        return False
    return _blocking_for_blob(version.blob_id).exists()


def quarantine_reason(version) -> ScanVerdict | None:
    """The verdict that blocks ``version``'s bytes (a flagged one first), or None."""
    if version is None:
        return None
    blocking = list(_blocking_for_blob(version.blob_id)[:10])
    return next((v for v in blocking if v.state == ScanState.FLAGGED), blocking[0] if blocking else None)


def ensure_not_quarantined(version) -> None:
    """Forbidden (403 ``quarantined``) for bytes that may not be downloaded,
    previewed or shared, saying why and what to do."""
    verdict = quarantine_reason(version)
    if verdict is None:
        return
    if verdict.state == ScanState.FLAGGED:
        message = (f"This file was quarantined by the content scanner ({verdict.signature}); it cannot be "
                   "downloaded, previewed or shared. An administrator can review and release it.")
    else:
        message = ("This file has not been scanned yet (or the scanner could not be reached); it is held "
                   "until it is scanned clean. Try again in a minute.")
    raise Forbidden(message, code="quarantined", detail={"state": verdict.state, "signature": verdict.signature})


def quarantined_blob_keys() -> set[str]:
    """Object keys of every blocked blob (few: flagged files wait for review,
    held ones for a scan) — the zip walk leaves these files out."""
    return set(ScanVerdict.objects.filter(BLOCKING, version__isnull=False)
               .values_list("version__blob__key", flat=True).distinct())


def quarantined_versions() -> QuerySet:
    """The admin review queue: flagged verdicts, oldest first."""
    return (ScanVerdict.objects.filter(state=ScanState.FLAGGED)
            .select_related("version__node", "version__created_by").order_by("created_at"))


def _summary(own: ScanVerdict | None, blocking: ScanVerdict | None) -> dict | None:
    if own is None and blocking is None:
        return None
    shown = blocking if blocking is not None and blocking.state == ScanState.FLAGGED else (own or blocking)
    return {"state": shown.state, "signature": shown.signature or None, "quarantined": blocking is not None}


def scan_summary(node) -> dict | None:
    """``{"state", "signature", "quarantined"}`` of a file's current version for
    its metadata (from ``scan_info`` when a listing attached it in bulk); None
    for folders and files never scanned."""
    if hasattr(node, "scan_info"):
        return node.scan_info
    version = node.current_version
    if version is None:
        return None
    return _summary(ScanVerdict.objects.filter(version=version).first(), quarantine_reason(version))


def attach_scan_summaries(nodes) -> None:
    """Set ``scan_info`` on every node of a listing in two queries."""
    versions = [node.current_version for node in nodes if node.current_version_id]
    own = {v.version_id: v for v in ScanVerdict.objects.filter(version__in=[v.pk for v in versions])}
    blocking: dict[int, ScanVerdict] = {}
    for verdict in (ScanVerdict.objects.filter(BLOCKING, version__blob_id__in={v.blob_id for v in versions})
                    .select_related("version")):
        if verdict.version.blob_id not in blocking or verdict.state == ScanState.FLAGGED:
            blocking[verdict.version.blob_id] = verdict
    for node in nodes:
        version = node.current_version if node.current_version_id else None
        node.scan_info = None if version is None else _summary(own.get(version.pk), blocking.get(version.blob_id))
