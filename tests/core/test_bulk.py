"""rows_create: Django's bulk_create in one INSERT ... unnest ... RETURNING with its arrays bound on
the server. Every value lands as bulk_create would put it (JSON, addresses, times, keys), each object
gets the id of its own row, and the statement is a Django query like any other (logged, its errors
Django's)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from portal.audit.models import AuditEvent
from portal.core.bulk import rows_create
from portal.spaces.services import space_create

pytestmark = pytest.mark.django_db
WHEN = datetime(2026, 12, 3, 19, 0, 42, tzinfo=timezone.utc)


def _event(n: int, **fields) -> AuditEvent:
    return AuditEvent(action="test.bulk", actor_label=f"\u5f20\u4e09 {n}", target_label=f"/a/{n}",
                      details={"n": n, "name": "\u5408\u540c's \"draft\""}, ip="2001:db8::1" if n % 2 else "10.0.0.7",
                      created_at=WHEN, **fields)


def test_each_object_gets_its_own_rows_id_and_every_value_lands(alice):
    space = space_create(actor=alice, name="Team")
    events = [_event(n, actor=alice, space=space) for n in range(300)]
    with CaptureQueriesContext(connection) as queries:
        made = rows_create(events)
    assert made is events and len(queries) == 1 and "RETURNING" in queries[0]["sql"]
    assert all(event.pk is not None and not event._state.adding for event in events)
    stored = {row.pk: row for row in AuditEvent.objects.filter(action="test.bulk")}
    for n, event in enumerate(events):
        row = stored[event.pk]
        assert (row.target_label, row.details, row.ip, row.created_at, row.actor_id, row.space_id) == (
            f"/a/{n}", {"n": n, "name": "\u5408\u540c's \"draft\""}, "2001:db8::1" if n % 2 else "10.0.0.7",
            WHEN, alice.pk, space.pk)


def test_a_refused_row_raises_djangos_error_and_nothing_is_written(alice):
    space = space_create(actor=alice, name="Team")
    taken = AuditEvent.objects.filter(space=space).count()
    clash = [_event(1, space=space, seq=10**12), _event(2, space=space, seq=10**12)]  # seq is unique
    with pytest.raises(IntegrityError), transaction.atomic():
        rows_create(clash)
    assert AuditEvent.objects.filter(space=space).count() == taken
    assert rows_create([]) == []
