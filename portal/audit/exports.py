"""Exports of the audit log: streamed for ordinary ranges, written to the
object store by the ``audit.export`` task for large ones. Every export is
itself an audit event (``audit.exported``)."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Iterable, Iterator
from datetime import datetime

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext, pgettext_lazy

from portal.audit.actions import Action
from portal.audit.models import AuditEvent, AuditExport, ExportStatus
from portal.audit.selectors import events_filtered, export_params
from portal.audit.sentences import describe
from portal.audit.services import record
from portal.core.errors import InvalidInput
from portal.outbox.services import enqueue

FIELDS = ("id", "created_at", "actor_id", "actor_label", "action", "outcome", "target_type", "target_id",
          "target_label", "space_id", "ip", "user_agent", "details", "seq", "chain_hash")
# Read by people: the space's name and the sentence the audit list shows.
COLUMNS = (*FIELDS, "space", "sentence")
# The CSV header row in the reader's language (a spreadsheet is read by people);
# in English the header is the field names, as JSON Lines' keys are.
HEADERS = {
    "id": pgettext_lazy("audit export column", "id"),
    "created_at": pgettext_lazy("audit export column", "created_at"),
    "actor_id": pgettext_lazy("audit export column", "actor_id"),
    "actor_label": pgettext_lazy("audit export column", "actor_label"),
    "action": pgettext_lazy("audit export column", "action"),
    "outcome": pgettext_lazy("audit export column", "outcome"),
    "target_type": pgettext_lazy("audit export column", "target_type"),
    "target_id": pgettext_lazy("audit export column", "target_id"),
    "target_label": pgettext_lazy("audit export column", "target_label"),
    "space_id": pgettext_lazy("audit export column", "space_id"),
    "ip": pgettext_lazy("audit export column", "ip"),
    "user_agent": pgettext_lazy("audit export column", "user_agent"),
    "details": pgettext_lazy("audit export column", "details"),
    "seq": pgettext_lazy("audit export column", "seq"),
    "chain_hash": pgettext_lazy("audit export column", "chain_hash"),
    "space": pgettext_lazy("audit export column", "space"),
    "sentence": pgettext_lazy("audit export column", "sentence"),
}
CHUNK = 2000
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
# Spreadsheets run cells that start with these as formulas; labels are user-chosen names.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def check_format(fmt: str) -> str:
    if fmt not in CONTENT_TYPES:
        raise InvalidInput(gettext("Export format is one of: %(join)s.") % {"join": ', '.join(CONTENT_TYPES)}, code="invalid_format")
    return fmt


def _rows(events: QuerySet, counter: list[int] | None) -> Iterator[dict]:
    for event in events.select_related("space").iterator(chunk_size=CHUNK):
        if counter is not None:
            counter[0] += 1
        row = {field: getattr(event, field) for field in FIELDS}
        row.update(space=event.space.name if event.space_id else None, sentence=describe(event))
        yield row


def _plain(value):
    return value.isoformat() if isinstance(value, datetime) else value


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = _plain(value) if isinstance(value, datetime) else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_lines(events: QuerySet, counter: list[int] | None = None) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([str(HEADERS.get(field, field)) for field in COLUMNS])
    for count, row in enumerate(_rows(events, counter), 1):
        writer.writerow([_cell(row[field]) for field in COLUMNS])
        if count % 200 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def jsonl_lines(events: QuerySet, counter: list[int] | None = None) -> Iterator[str]:
    for row in _rows(events, counter):
        yield json.dumps({field: _plain(row[field]) for field in COLUMNS}, ensure_ascii=False, sort_keys=False) + "\n"


def lines(events: QuerySet, fmt: str, counter: list[int] | None = None) -> Iterator[str]:
    return (csv_lines if check_format(fmt) == "csv" else jsonl_lines)(events, counter)


@transaction.atomic
def export_stream_record(*, actor, fmt: str, params, rows: int) -> AuditEvent:
    """A staff member is about to receive a streamed export (the caller checked staff status)."""
    return record(action=Action.AUDIT_EXPORTED, actor=actor,
                  details={"format": check_format(fmt), "filters": export_params(params), "rows": rows,
                           "mode": "stream"})


@transaction.atomic
def audit_export_start(*, actor, fmt: str, params) -> AuditExport:
    """A staff member asks for a large export: a row to follow it, its event,
    and the ``audit.export`` task queued once this commits."""
    from portal.audit.tasks import export as export_task

    filters = export_params(params)
    events_filtered(filters)  # refuse bad filters now, not in the worker
    export = AuditExport.objects.create(created_by=actor, format=check_format(fmt), filters=filters)
    record(action=Action.AUDIT_EXPORTED, actor=actor, target=export,
           details={"format": fmt, "filters": filters, "mode": "file"})
    enqueue(export_task, export.pk)
    return export


def export_key(export: AuditExport) -> str:
    return f"audit/exports/{export.created_at:%Y-%m-%d}/{export.filename}"


def _write(target, chunks: Iterable[str]) -> None:
    for chunk in chunks:
        target.write(chunk.encode("utf-8"))


def audit_export_run(*, export_id: int) -> AuditExport:
    """The worker writes the export to the object store. Safe to run twice:
    a finished export is left alone, a repeated one overwrites the same key."""
    from portal.storage import get_store

    export = AuditExport.objects.get(pk=export_id)
    if export.status == ExportStatus.DONE:
        return export
    key = export_key(export)
    events = events_filtered(export.filters)
    with tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024) as spool:
        counter = [0]
        _write(spool, lines(events, export.format, counter))
        spool.seek(0)
        get_store().put(key, spool, content_type=CONTENT_TYPES[export.format])
    rows = counter[0]
    AuditExport.objects.filter(pk=export.pk).update(status=ExportStatus.DONE, key=key, rows=rows,
                                                   finished_at=timezone.now(), error="")
    export.refresh_from_db()
    return export


def audit_export_fail(*, export_id: int, error: str) -> None:
    AuditExport.objects.filter(pk=export_id).update(status=ExportStatus.FAILED, error=error[:2000],
                                                   finished_at=timezone.now())


def download_url(export: AuditExport) -> str | None:
    """A short-lived link to a finished export (made when the page is shown)."""
    if export.status != ExportStatus.DONE or not export.key:
        return None
    from portal.storage import get_store

    return get_store().presign_get(export.key, filename=export.filename,
                                   content_type=CONTENT_TYPES[export.format].split(";")[0])

