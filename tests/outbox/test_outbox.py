"""The outbox on PostgreSQL and the test Redis: follow-ups are written in the
transaction that wants them, published after it commits, kept for the relay
when the broker refuses them, and re-published when a broker lost them."""

from __future__ import annotations

import io
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.files.services.direct import file_put
from portal.outbox import services, sweep
from portal.outbox.models import OutboxMessage
from portal.scanning.models import ScanState, ScanVerdict
from portal.spaces.services import space_create
from tests.outbox.conftest import queued_ids

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("empty_queue")]


def test_a_committed_follow_up_is_one_row_and_one_message_under_the_rows_id():
    with transaction.atomic():
        services.enqueue("core.ping", "key-1")
        assert OutboxMessage.objects.count() == 0   # written at the commit, with the change
    row = OutboxMessage.objects.get()
    assert (row.task, row.args, row.attempts) == ("core.ping", ["key-1"], 1) and row.sent_at is not None
    assert queued_ids() == [str(row.pk)]


def test_a_rolled_back_transaction_writes_and_publishes_nothing():
    with pytest.raises(RuntimeError), transaction.atomic():
        services.enqueue("core.ping", "lost")
        raise RuntimeError("the change fails")
    with transaction.atomic():
        services.enqueue("core.ping", "kept")
        with pytest.raises(RuntimeError), transaction.atomic():   # a savepoint rolled back takes its follow-up
            services.enqueue("core.ping", "savepoint")
            raise RuntimeError("the inner change fails")
    assert list(OutboxMessage.objects.values_list("args", flat=True)) == [["kept"]]
    assert len(queued_ids()) == 1


def test_many_follow_ups_of_one_transaction_cost_one_insert():
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        for number in range(5):
            services.enqueue("core.ping", f"key-{number}")
        services.enqueue_many("core.ping", [("a",), ("b",)])
    inserts = [q["sql"] for q in queries.captured_queries if "outbox_outboxmessage" in q["sql"]]
    assert len(inserts) == 1 and inserts[0].startswith("INSERT")
    assert OutboxMessage.objects.count() == 7 and len(queued_ids()) == 7


def test_with_the_broker_down_the_commit_succeeds_and_the_relay_publishes_once_it_is_back(broker_down, caplog):
    started = time.monotonic()
    with transaction.atomic():
        services.enqueue("core.ping", "during-outage")
        services.enqueue("core.ping", "second", countdown=60)
    assert time.monotonic() - started < 2, "a refused publish must not hold the request"
    assert [(r.sent_at, r.attempts) for r in OutboxMessage.objects.all()] == [(None, 0), (None, 0)]
    assert sum("broker unavailable" in r.getMessage() for r in caplog.records) == 1
    assert not any(r.exc_info for r in caplog.records)
    assert services.relay() == 0   # still down: nothing counted as sent
    assert OutboxMessage.objects.filter(sent_at__isnull=True, attempts=0).count() == 2
    broker_down()   # the broker is back
    assert services.relay() == 2
    assert sorted(queued_ids()) == sorted(str(pk) for pk in OutboxMessage.objects.values_list("pk", flat=True))
    assert services.relay() == 0   # just sent: not again before the redelivery window


def test_outside_a_transaction_only_what_the_broker_refuses_is_written(broker_down):
    services.enqueue("core.ping", "refused")   # an audited read has no transaction to join
    assert list(OutboxMessage.objects.values_list("args", "sent_at", "attempts")) == [(["refused"], None, 0)]
    broker_down()   # back
    services.enqueue("core.ping", "taken")
    assert OutboxMessage.objects.count() == 1 and len(queued_ids()) == 1


def test_the_relay_publishes_again_what_a_broker_took_long_ago_until_the_attempts_cap(settings):
    settings.OUTBOX_REDELIVER_MINUTES = 10
    with transaction.atomic():
        services.enqueue("core.ping", "lost-in-a-restart")
        services.enqueue("core.ping", "recent")
        services.enqueue("core.ping", "later", countdown=30 * 60)   # its countdown has not even run out
        services.enqueue("core.ping", "given-up")
        services.enqueue("core.ping", "running-for-long")
    long_ago = timezone.now() - timedelta(minutes=11)
    OutboxMessage.objects.filter(args__0__in=["lost-in-a-restart", "given-up", "running-for-long"]).update(
        created_at=long_ago, due_at=long_ago, sent_at=long_ago)
    OutboxMessage.objects.filter(args=["running-for-long"]).update(started_at=long_ago)
    OutboxMessage.objects.filter(args=["later"]).update(created_at=long_ago, sent_at=long_ago)
    OutboxMessage.objects.filter(args=["given-up"]).update(attempts=services.MAX_ATTEMPTS)
    lost = OutboxMessage.objects.get(args=["lost-in-a-restart"])
    assert services.relay() == 1
    lost.refresh_from_db()
    assert lost.attempts == 2 and lost.sent_at > long_ago
    assert queued_ids().count(str(lost.pk)) == 2   # the same task id: a run of either deletes the row
    OutboxMessage.objects.filter(pk=lost.pk).update(sent_at=long_ago, attempts=services.MAX_ATTEMPTS - 1)
    assert services.relay() == 1 and services.relay() == 0   # its last publish
    OutboxMessage.objects.filter(pk=lost.pk).update(sent_at=long_ago)
    assert services.relay() == 0   # capped: left for an operator


def test_the_relay_publishes_again_a_task_whose_worker_died_once_the_broker_should_have_handed_it_on(settings):
    """Started, never finished, and not started again after the broker's redelivery time: the worker
    died and the broker lost its message as well (a Redis restart without the unacknowledged list)."""
    settings.OUTBOX_REDELIVER_MINUTES, settings.TASK_REDELIVERY_SECONDS = 10, 20 * 60
    with transaction.atomic():
        services.enqueue("core.ping", "abandoned")
        services.enqueue("core.ping", "still-running")
    sent = timezone.now() - timedelta(hours=2)
    OutboxMessage.objects.update(created_at=sent, due_at=sent, sent_at=sent)
    OutboxMessage.objects.filter(args=["abandoned"]).update(started_at=timezone.now() - timedelta(minutes=31))
    OutboxMessage.objects.filter(args=["still-running"]).update(started_at=timezone.now() - timedelta(minutes=29))
    assert services.relay() == 1
    abandoned = OutboxMessage.objects.get(args=["abandoned"])
    assert abandoned.attempts == 2 and abandoned.started_at is None  # as just sent: not again at the next relay
    assert services.relay() == 0


def test_the_relay_skips_rows_another_relay_holds():
    with transaction.atomic():
        services.enqueue_many("core.ping", [("one",), ("two",)])
    OutboxMessage.objects.update(sent_at=None, attempts=0)
    from django.db import connections

    other = connections.create_connection("default")   # a second relay's session
    try:
        other.set_autocommit(False)
        with other.cursor() as cursor:
            cursor.execute("SELECT id FROM outbox_outboxmessage WHERE args = '[\"one\"]' FOR UPDATE")
        assert services.relay() == 1
        assert OutboxMessage.objects.get(args=["two"]).attempts == 1
        assert OutboxMessage.objects.get(args=["one"]).attempts == 0
    finally:
        other.rollback()
        other.close()


def test_the_sweep_queues_again_old_versions_still_unhashed_or_unscanned_and_only_once(alice, settings):
    settings.OUTBOX_SWEEP_MINUTES = 10
    team = space_create(actor=alice, name="Team")
    old = file_put(actor=alice, space_id=team.pk, path="/old.txt", fileobj=io.BytesIO(b"old"), size=3)
    young = file_put(actor=alice, space_id=team.pk, path="/young.txt", fileobj=io.BytesIO(b"young"), size=5)
    done = file_put(actor=alice, space_id=team.pk, path="/done.txt", fileobj=io.BytesIO(b"done"), size=4)
    OutboxMessage.objects.all().delete()   # what the uploads queued was lost
    long_ago = timezone.now() - timedelta(minutes=11)
    for version in (old, done):
        type(version.blob).objects.filter(pk=version.blob_id).update(created_at=long_ago)
        ScanVerdict.objects.filter(version=version).update(created_at=long_ago)
    type(done.blob).objects.filter(pk=done.blob_id).update(sha256="d" * 64)
    ScanVerdict.objects.filter(version=done).update(state=ScanState.CLEAN)
    assert sweep.versions_requeue() == {"hash": 1, "scan": 1}
    queued = sorted((row.task, row.args) for row in OutboxMessage.objects.all())
    assert queued == [("files.hash_blob", [old.blob_id]), ("scanning.scan_version", [old.pk])]
    assert sweep.versions_requeue() == {"hash": 0, "scan": 0}   # still in the outbox: not queued twice
    assert young.blob.sha256 is None


def test_a_worker_runs_the_follow_up_and_deletes_its_row_fanned_out_ones_too():
    from celery.contrib.testing.worker import start_worker
    from django.core.cache import cache

    from portal.celery import app
    from portal.core.tasks import fan_out

    keys = [f"outbox-{timezone.now().timestamp()}-{n}" for n in range(4)]
    with transaction.atomic():
        services.enqueue("core.ping", keys[0])
        fan_out("core.ping", keys[1:])   # one core.spread message, whose worker writes a row per key
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        deadline = time.monotonic() + 30
        while any(cache.get(key) is None for key in keys) or OutboxMessage.objects.exists():
            assert time.monotonic() < deadline, list(OutboxMessage.objects.values_list("task", "args"))
            time.sleep(0.1)  # polling the worker thread's effect until the deadline
