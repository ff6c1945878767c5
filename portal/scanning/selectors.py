"""Reads about quarantine. The checks the download, preview and share paths
call are here, each one small function: ``ensure_not_quarantined``."""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import F, Q, QuerySet
from django.utils.translation import gettext

from portal.core.errors import Forbidden
from portal.scanning.models import BLOCKING, FLAGGED_BY_CONTENT, HELD, NAME_SCANNERS, ScanState, ScanVerdict
from portal.scanning.scanners import blocked_name


def _name_flags() -> Q:
    return Q(state=ScanState.FLAGGED, scanner__in=NAME_SCANNERS)


def _blocking_for(version) -> list[ScanVerdict]:
    """The verdicts that keep ``version`` in: its own (flagged, or held by a
    pending or failed scan), and a flag *by content* on any version with the
    same bytes. A version without a verdict of its own (a copy, a restore)
    also inherits a hold on the bytes it came from, and a flag by name when
    its own name is blocked too. A flag by name never reaches a differently
    named version with a verdict of its own: the name was the finding."""
    own = ScanVerdict.objects.filter(version_id=version.pk).first()
    inherited = FLAGGED_BY_CONTENT
    if own is None:
        inherited = inherited | HELD
        if blocked_name(version.node.name):
            inherited = inherited | _name_flags()
    found = list(ScanVerdict.objects.filter(inherited, version__blob_id=version.blob_id)
                 .exclude(version_id=version.pk)[:10])
    return ([own] if own is not None and own.blocks else []) + found


def is_quarantined(version) -> bool:
    """Whether ``version``'s bytes may not leave the portal (see _blocking_for)."""
    if version is None:
        return False
    return bool(_blocking_for(version))


def quarantine_reason(version) -> ScanVerdict | None:
    """The verdict that blocks ``version`` (a flagged one first), or None."""
    if version is None:
        return None
    blocking = _blocking_for(version)
    return next((v for v in blocking if v.state == ScanState.FLAGGED), blocking[0] if blocking else None)


def ensure_not_quarantined(version) -> None:
    """Forbidden (403 ``quarantined``) for bytes that may not be downloaded,
    previewed or shared, saying why and what to do."""
    verdict = quarantine_reason(version)
    if verdict is None:
        return
    if verdict.state == ScanState.FLAGGED:
        message = gettext("This file was quarantined by the content scanner (%(signature)s); it cannot be "
                          "downloaded, previewed or shared. An administrator can review and release it.") % {
            "signature": verdict.signature}
    else:
        message = gettext("This file has not been scanned yet (or the scanner could not be reached); it is held "
                          "until it is scanned clean. Try again in a minute.")
    raise Forbidden(message, code="quarantined", detail={"state": verdict.state, "signature": verdict.signature})


def quarantine_checker() -> Callable[[int | None, int | None, str], bool]:
    """``blocked(version_id, blob_id, name)`` for many versions (the zip
    walk): the blocking verdicts are read once (few: flagged files wait for
    review, held ones for a scan), with the rules of _blocking_for."""
    rows = list(ScanVerdict.objects.filter(BLOCKING, version__isnull=False)
                .values_list("version_id", "version__blob_id", "state", "scanner"))
    own = {version_id for version_id, *_ in rows}
    by_content = {blob for _, blob, state, scanner in rows
                  if state == ScanState.FLAGGED and scanner not in NAME_SCANNERS}
    held = {blob for _, blob, state, _ in rows if state != ScanState.FLAGGED}
    by_name = {blob for _, blob, state, scanner in rows if state == ScanState.FLAGGED and scanner in NAME_SCANNERS}

    def blocked(version_id, blob_id, name: str) -> bool:
        if version_id is None:
            return False
        if version_id in own or blob_id in by_content:
            return True
        inherits = blob_id in held or (blob_id in by_name and blocked_name(name))
        return inherits and not ScanVerdict.objects.filter(version_id=version_id).exists()

    return blocked


def quarantined_versions() -> QuerySet:
    """The admin review queue: flagged verdicts, oldest first."""
    return (ScanVerdict.objects.filter(state=ScanState.FLAGGED)
            .select_related("version__node", "version__created_by").order_by("created_at"))


def _summary(own: ScanVerdict | None, blocking: ScanVerdict | None) -> dict | None:
    if own is None and blocking is None:
        return None
    shown = blocking if blocking is not None and blocking.state == ScanState.FLAGGED else (own or blocking)
    return {"state": shown.state, "signature": shown.signature or None, "quarantined": blocking is not None}


def fresh_summary(verdict: ScanVerdict) -> dict | None:
    """The scan summary of a version made a moment ago with ``verdict`` (its
    bytes are new, so no other verdict can block them yet)."""
    return _summary(verdict, verdict if verdict.blocks else None)


def scan_summary(node) -> dict | None:
    """``{"state", "signature", "quarantined"}`` of one file's current version
    for its metadata (see scan_summaries); None for folders and files never scanned."""
    return scan_summaries([node])[node.pk]


def scan_summaries(nodes) -> dict[int, dict | None]:
    """The scan summary of each node's current version, by node id, in one
    query whatever their number (none when no node has a version), with the
    rules of _blocking_for. The nodes come with ``current_version`` loaded."""
    nodes = list(nodes)
    versions = [node.current_version for node in nodes if node.current_version_id]
    verdicts = _Verdicts(versions)
    return {node.pk: verdicts.summary(node) for node in nodes}


class _Verdicts:
    """The verdicts that matter to some versions, read in one query: each
    version's own, and the blocking ones on the same bytes."""

    def __init__(self, versions):
        rows = []
        if versions:
            own_ids = [version.pk for version in versions]
            blobs = {version.blob_id for version in versions}
            wanted = Q(version_id__any=own_ids) | (BLOCKING & Q(version__blob_id__any=blobs))
            rows = list(ScanVerdict.objects.filter(wanted).annotate(blob=F("version__blob_id")).order_by("id"))
        own_ids = {version.pk for version in versions}
        self.own = {verdict.version_id: verdict for verdict in rows if verdict.version_id in own_ids}
        self.by_content: dict[int, ScanVerdict] = {}
        self.inheritable: dict[int, list[ScanVerdict]] = {}  # holds and flags by name, for versions without a verdict
        for verdict in (verdict for verdict in rows if verdict.blocks):
            if verdict.state == ScanState.FLAGGED and verdict.by_content:
                self.by_content.setdefault(verdict.blob, verdict)
            else:
                self.inheritable.setdefault(verdict.blob, []).append(verdict)

    def summary(self, node) -> dict | None:
        if not node.current_version_id:
            return None
        version = node.current_version
        mine = self.own.get(version.pk)
        inherited = None
        if mine is None:
            inherited = next((verdict for verdict in self.inheritable.get(version.blob_id, [])
                              if verdict.state != ScanState.FLAGGED or blocked_name(node.name)), None)
        blocking = [verdict for verdict in (mine if mine is not None and mine.blocks else None,
                                            self.by_content.get(version.blob_id), inherited) if verdict is not None]
        reason = next((verdict for verdict in blocking if verdict.state == ScanState.FLAGGED),
                      blocking[0] if blocking else None)
        return _summary(mine, reason)
