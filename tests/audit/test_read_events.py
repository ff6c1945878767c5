"""Read events (downloads, page views): ``record_read`` commits each one on
its own before it returns, in one statement, so nothing a caller does
afterwards (rolling back, crashing, being SIGKILLed) can lose it."""

import pytest
from django.db import connection, transaction

from portal.audit import chain, services
from portal.audit.actions import Action
from portal.audit.models import AuditEvent
from portal.audit.services import record, record_read
from portal.spaces.models import Space
from portal.spaces.services import space_create
from tests.audit.helpers import verify

pytestmark = [pytest.mark.postgres]


def _downloaded(writer, actor, **fields):
    return writer(action=Action.FILE_DOWNLOADED, actor=actor, target=actor, target_label="/Reports/q3.pdf",
                  details={"version": 2, "size": 4096}, **fields)


@pytest.mark.parametrize("writer", [record_read, record], ids=["record_read", "record"])
def test_a_read_event_in_an_atomic_block_that_wrote_nothing_survives_its_rollback(transactional_db, alice, writer):
    with pytest.raises(RuntimeError), transaction.atomic():
        event = _downloaded(writer, alice)
        raise RuntimeError("the caller fails after the read started")
    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.action, stored.actor_id, stored.actor_label, stored.target_label, stored.details) == \
        (Action.FILE_DOWNLOADED, alice.pk, "alice", "/Reports/q3.pdf", {"version": 2, "size": 4096})
    assert (event._state.adding, stored.seq) == (False, None)


def test_a_read_event_alone_is_one_message_to_the_server(transactional_db, alice, tmp_path):
    # What libpq sends, not what Django lists (it lists BEGIN and COMMIT for
    # a block that the driver never sends when the block sent nothing).
    connection.ensure_connection()
    wire, trace = connection.connection.pgconn, tmp_path / "wire.txt"
    with open(trace, "w") as out:
        wire.trace(out.fileno())
        try:
            with transaction.atomic():
                _downloaded(record_read, alice)
        finally:
            wire.untrace()
    sent = [line.split("\t")[3:5] for line in trace.read_text().splitlines() if line.split("\t")[1] == "F"]
    assert len(sent) == 1 and sent[0][0] == "Query" and sent[0][1].startswith(' "WITH commit_mode AS'), sent


def test_a_read_event_joins_a_transaction_that_already_wrote(transactional_db, alice):
    with pytest.raises(RuntimeError), transaction.atomic():
        space_create(actor=alice, name="Doomed")
        event = _downloaded(record_read, alice)
        raise RuntimeError("crash after the change")
    assert not AuditEvent.objects.filter(pk=event.pk).exists()
    assert not Space.objects.filter(name="Doomed").exists()


def test_the_connection_stays_usable_inside_the_block_after_a_read_event_alone(transactional_db, alice):
    with pytest.raises(RuntimeError), transaction.atomic():
        first = _downloaded(record_read, alice)
        space_create(actor=alice, name="Rolled back")  # the block's own transaction starts here
        raise RuntimeError
    assert AuditEvent.objects.filter(pk=first.pk).exists()
    assert not Space.objects.filter(name="Rolled back").exists()
    assert connection.connection.autocommit  # back to Django's autocommit outside the block


def test_a_test_cases_transaction_counts_as_under_way(db):
    # The events of ordinary (rolled back) tests must not leak into the next test.
    assert connection.in_atomic_block and not services._can_commit_alone()


@pytest.mark.parametrize(("durable", "mode"), [(False, "off"), (True, "on")])
def test_a_read_event_alone_waits_for_the_wal_flush_only_when_configured(transactional_db, alice, settings,
                                                                          durable, mode):
    settings.AUDIT_DURABLE_READS = durable
    seen = []

    def spy(execute, sql, params, many, context):
        seen.append((sql, params[0]))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(spy):
        _downloaded(record_read, alice)
    assert seen == [(services._INSERT_ALONE, mode)]


def test_set_config_in_a_statement_holds_for_that_statements_transaction_only(transactional_db):
    # What the single INSERT relies on: its commit obeys the value it set.
    with connection.cursor() as cursor:
        cursor.execute("WITH commit_mode AS (SELECT set_config('synchronous_commit', 'off', true)) "
                       "SELECT current_setting('synchronous_commit') FROM commit_mode")
        assert cursor.fetchone() == ("off",)
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone() == ("on",)


def test_read_events_written_alone_are_sealed_and_verified_like_any_other(transactional_db, alice):
    record(action="test.event", actor=alice)
    _downloaded(record_read, alice, space=None)
    record(action="test.event", actor=alice)
    assert chain.chain_seal() >= 3
    code, output = verify()
    assert code == 0, output
