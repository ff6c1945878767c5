"""The hash chain: sealing, and audit_verify catching every kind of tampering."""

import hmac
import json
import logging
import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from portal.audit import chain, tasks
from portal.audit.models import AppendOnlyError, AuditEvent, ChainCheckpoint, ChainState
from portal.audit.services import record
from portal.audit.verify import chain_verify
from tests.audit.helpers import plain_sha256, rehash, sql, verify

pytestmark = pytest.mark.django_db


def sealed() -> list[tuple[int, int]]:
    return list(AuditEvent.objects.filter(seq__isnull=False).order_by("seq").values_list("seq", "id"))


# --- sealing -------------------------------------------------------------------------

def test_writing_an_event_leaves_it_unsealed_for_the_sealer(events):
    event = events(1)[0]
    assert (event.seq, event.chain_hash, event.sealed_at) == (None, "", None)


def test_sealing_numbers_events_gap_free_in_id_order(events):
    written = [e.id for e in events(7)]
    assert chain.chain_seal(limit=3) == 3
    assert chain.chain_seal() >= 4
    numbered = sealed()
    assert [seq for seq, _ in numbered] == list(range(1, len(numbered) + 1))
    assert [pk for _, pk in numbered][-7:] == written
    state = ChainState.objects.get()
    last = AuditEvent.objects.get(seq=state.head_seq)
    assert state.head_hash == last.chain_hash and last.prev_hash == AuditEvent.objects.get(seq=state.head_seq - 1).chain_hash


def test_each_hash_covers_the_content_and_the_previous_hash(events):
    events(2)
    chain.chain_seal()
    first, second = AuditEvent.objects.filter(seq__in=[1, 2]).order_by("seq")
    assert first.prev_hash == chain.GENESIS and second.prev_hash == first.chain_hash
    row = AuditEvent.objects.filter(pk=second.pk).values_list(*chain.CONTENT_FIELDS).get()
    assert chain.event_hash(chain.chain_key(), row, first.chain_hash) == second.chain_hash
    assert chain.event_hash(chain.chain_key(), row, chain.GENESIS) != second.chain_hash


def test_sealed_events_stay_append_only_through_the_orm(events):
    event = events(1)[0]
    chain.chain_seal()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="x")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    event.refresh_from_db()
    with pytest.raises(AppendOnlyError):
        event.save()


def test_the_seal_task_seals_keeps_a_checkpoint_and_exports_it(events, heads_store, caplog):
    events(3)
    with caplog.at_level(logging.INFO, logger="portal.audit.chain"):
        result = tasks.seal()
    head = ChainState.objects.get()
    checkpoint = ChainCheckpoint.objects.get()
    assert result["sealed"] == head.head_seq and result["checkpoint"] == head.head_seq == checkpoint.seq
    assert checkpoint.exported_key == f"audit/heads/{checkpoint.created_at:%Y-%m-%d}/{head.head_seq:020d}.json"
    with heads_store.open(checkpoint.exported_key) as stream:
        exported = json.loads(stream.read())
    assert (exported["seq"], exported["hash"], exported["key_id"]) == (head.head_seq, head.head_hash, head.key_id)
    assert any(head.head_hash in message for message in caplog.messages)


def test_checkpoints_are_kept_at_most_once_per_interval(events, heads_store):
    events(1)
    tasks.seal()
    events(1)
    assert tasks.seal()["checkpoint"] is None
    assert ChainCheckpoint.objects.count() == 1


def test_a_changed_key_stops_the_sealer_and_fails_verification(events, settings, heads_store):
    events(1)
    chain.chain_seal()
    settings.AUDIT_CHAIN_KEY = "another key entirely"
    events(1)
    with pytest.raises(chain.ChainKeyChanged):
        chain.chain_seal()
    code, output = verify()
    assert code == 1 and "sealed with key" in output


# --- audit_verify --------------------------------------------------------------------

def test_an_intact_chain_verifies(events, heads_store):
    events(5)
    chain.chain_maintain(force_checkpoint=True)
    events(5)
    chain.chain_maintain(force_checkpoint=True)
    code, output = verify()
    assert code == 0, output
    assert output.startswith("OK: ") and "2 checkpoints and 2 exported heads match" in output


def test_verify_prints_a_json_report(events, heads_store):
    events(3)
    chain.chain_maintain()
    code, output = verify("--json")
    report = json.loads(output)
    assert code == 0 and report["ok"] and report["events"] == ChainState.objects.get().head_seq


def test_an_altered_event_is_named(events, heads_store):
    events(6)
    chain.chain_maintain()
    victim = AuditEvent.objects.get(seq=4)
    sql("UPDATE audit_auditevent SET target_label = 'mallory' WHERE id = %s", [victim.pk])
    code, output = verify()
    assert code == 1
    assert output.startswith(f"FAILED (altered): Event #{victim.pk} at seq 4 was altered")


def test_altered_details_are_caught_too(events, heads_store):
    events(3)
    chain.chain_seal()
    victim = AuditEvent.objects.get(seq=2)
    sql("""UPDATE audit_auditevent SET details = '{"n": 1, "note": "e"}' WHERE id = %s""", [victim.pk])
    report = chain_verify()
    assert (report.problems[0].kind, report.problems[0].event_id) == ("altered", victim.pk)


def test_a_deleted_event_is_named(events, heads_store):
    events(6)
    chain.chain_maintain()
    victim = AuditEvent.objects.get(seq=3)
    sql("DELETE FROM audit_auditevent WHERE id = %s", [victim.pk])
    code, output = verify()
    assert code == 1 and output.startswith("FAILED (deleted): Events at seq 3..3 are missing")


def test_a_deletion_hidden_by_renumbering_is_caught(events, heads_store):
    events(6)
    chain.chain_seal()
    sql("DELETE FROM audit_auditevent WHERE seq = 3")
    sql("UPDATE audit_auditevent SET seq = seq - 1 WHERE seq > 3")
    report = chain_verify()
    assert report.problems[0].kind == "reordered" and report.problems[0].seq == 3


def test_deleting_the_newest_events_is_caught(events, heads_store):
    events(6)
    chain.chain_maintain()
    head = ChainState.objects.get().head_seq
    sql("DELETE FROM audit_auditevent WHERE seq >= %s", [head - 1])
    code, output = verify()
    assert code == 1 and f"Events at seq {head - 1}..{head} are missing (deleted at the end)" in output


def test_two_swapped_events_are_named(events, heads_store):
    events(6)
    chain.chain_maintain()
    first, second = AuditEvent.objects.get(seq=3), AuditEvent.objects.get(seq=4)
    sql("UPDATE audit_auditevent SET seq = -1 WHERE id = %s", [first.pk])
    sql("UPDATE audit_auditevent SET seq = 3 WHERE id = %s", [second.pk])
    sql("UPDATE audit_auditevent SET seq = 4 WHERE id = %s", [first.pk])
    report = chain_verify()
    # Three links break: into the moved pair, between them, and out of them.
    assert [(p.kind, p.seq, p.event_id) for p in report.problems][:2] == \
        [("reordered", 3, second.pk), ("reordered", 4, first.pk)]
    assert [p.seq for p in report.problems] == [3, 4, 5]
    code, output = verify()
    assert code == 1 and f"Event #{second.pk} at seq 3 is not chained to event #" in output


def test_a_table_rehashed_without_the_key_fails_from_its_first_event(events, heads_store):
    events(5)
    chain.chain_maintain()
    sql("UPDATE audit_auditevent SET actor_label = 'nobody'")
    rehash(1, plain_sha256)
    report = chain_verify()
    assert report.problems[0].kind == "altered" and report.problems[0].seq == 1


def test_a_table_rewritten_with_the_key_is_caught_by_the_exported_heads(events, heads_store):
    events(5)
    chain.chain_maintain(force_checkpoint=True)
    events(2)
    chain.chain_seal()
    # The attacker has the key and the database: edits an event, re-hashes
    # everything after it, and fixes the head and the stored checkpoints.
    sql("UPDATE audit_auditevent SET target_label = 'nothing to see' WHERE seq = 2")
    head = rehash(2, lambda data: hmac.digest(chain.chain_key(), data, "sha256").hex())
    last = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    sql("UPDATE audit_chainstate SET head_hash = %s", [head])
    for seq in ChainCheckpoint.objects.values_list("seq", flat=True):
        sql("UPDATE audit_chaincheckpoint SET hash = (SELECT chain_hash FROM audit_auditevent WHERE seq = %s) "
            "WHERE seq = %s", [seq, seq])
    assert chain_verify(heads=0).ok  # without the object store, the forgery holds
    report = chain_verify()
    checkpoint = ChainCheckpoint.objects.get()
    assert [p.kind for p in report.problems] == ["rewritten"] and report.problems[0].seq == checkpoint.seq < last
    code, output = verify()
    assert code == 1 and f"differs from the exported head {checkpoint.exported_key}" in output


def test_an_exported_head_removed_from_the_store_is_reported(events, heads_store):
    events(2)
    chain.chain_maintain()
    heads_store.delete(ChainCheckpoint.objects.get().exported_key)
    code, output = verify()
    assert code == 1 and "missing from the object store" in output


def test_events_unsealed_for_over_a_minute_fail_verification(events, heads_store, alice):
    events(2)
    chain.chain_maintain()
    assert verify()[0] == 0
    events(1)  # fresh: the sealer has a minute
    assert verify()[0] == 0
    stale = AuditEvent.objects.create(action="test.event", actor=alice,
                                      created_at=timezone.now() - timedelta(seconds=61))
    code, output = verify()
    assert code == 1 and output.startswith("FAILED (unsealed): 1 event(s) are unsealed") and f"#{stale.pk}" in output


def test_verify_can_start_from_the_latest_checkpoint(events, heads_store):
    events(4)
    chain.chain_maintain(force_checkpoint=True)
    events(3)
    chain.chain_seal()
    code, output = verify("--from-checkpoint")
    assert code == 0 and "3 events verified" in output
    code, output = verify("--from-checkpoint", "999")
    assert code == 1 and "no checkpoint at seq 999" in output


# --- retention -----------------------------------------------------------------------

def _two_checkpoints(events) -> tuple[ChainCheckpoint, ChainCheckpoint]:
    events(4)
    chain.chain_maintain(force_checkpoint=True)
    events(3)
    chain.chain_maintain(force_checkpoint=True)
    return tuple(ChainCheckpoint.objects.order_by("seq"))


def test_retention_purges_up_to_a_checkpoint_and_the_chain_still_verifies(events, heads_store):
    old, new = _two_checkpoints(events)
    purge = tasks_purge(now=new.created_at)
    assert purge.through_seq == old.seq and purge.events == old.seq
    assert not AuditEvent.objects.filter(seq__lte=old.seq).exists()
    assert list(ChainCheckpoint.objects.order_by("seq").values_list("seq", flat=True)) == [old.seq, new.seq]
    purged = AuditEvent.objects.get(action="audit.purged")
    assert purged.seq is not None and purged.details["through_seq"] == old.seq
    code, output = verify()
    assert code == 0, output
    assert f"seq {old.seq + 1}.." in output


def test_nothing_is_purged_before_the_retention_period(events, heads_store):
    _two_checkpoints(events)
    assert tasks.purge_expired() is None
    assert AuditEvent.objects.filter(seq=1).exists()


def test_events_deleted_to_look_purged_are_still_caught(events, heads_store):
    old, _ = _two_checkpoints(events)
    sql("DELETE FROM audit_auditevent WHERE seq <= %s", [old.seq])
    code, output = verify()
    assert code == 1 and "no audit.purged event records a retention purge" in output


def test_events_deleted_from_the_start_without_a_checkpoint_are_caught(events, heads_store):
    events(5)
    chain.chain_seal()
    sql("DELETE FROM audit_auditevent WHERE seq <= 2")
    code, output = verify()
    assert code == 1 and output.startswith("FAILED (deleted): Events at seq 1..2 are missing")


def tasks_purge(*, now):
    from portal.audit.retention import events_purge_expired

    return events_purge_expired(now=now, retention_days=0)


# --- concurrency (PostgreSQL, real threads) ------------------------------------------

def _in_thread(work):
    def run():
        try:
            work()
        finally:
            connections.close_all()
    return threading.Thread(target=run)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_writers_never_wait_for_sealers_and_the_chain_stays_whole(alice, heads_store):
    writers, per_writer, done = 4, 60, threading.Event()
    errors = []

    def write():
        try:
            for i in range(per_writer):
                record(action="test.concurrent", actor=alice, details={"i": i})
        except Exception as exc:  # reported below
            errors.append(exc)

    def seal():
        while not done.is_set():
            chain.chain_maintain()

    threads = [_in_thread(write) for _ in range(writers)]
    sealers = [_in_thread(seal) for _ in range(2)]
    for thread in threads + sealers:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    for thread in sealers:
        thread.join()
    assert not errors
    chain.chain_maintain(force_checkpoint=True)
    numbered = sealed()
    assert len(numbered) == AuditEvent.objects.count() >= writers * per_writer
    assert [seq for seq, _ in numbered] == list(range(1, len(numbered) + 1))
    report = chain_verify()
    assert report.ok, report.problems
    assert report.events == len(numbered)
    assert connection.vendor == "postgresql"


# --- the canonical form ------------------------------------------------------------

@pytest.mark.postgres
def test_postgresql_reads_hash_exactly_as_orm_reads(alice):
    from portal.audit import context

    token = context.bind(context.RequestContext(ip="2001:db8::1", user_agent="Agent/1.0 ü"))
    try:
        record(action="test.event", actor=alice, target_label="naïve / 東京.txt",
               details={"z": [1, 2.5, None, True], "a": {"nested": "ä\u2028"}, "big": 2**62})
    finally:
        context.unbind(token)
    event = AuditEvent.objects.latest("id")
    orm = AuditEvent.objects.filter(pk=event.pk).values_list(*chain.CONTENT_FIELDS).get()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {chain.PG_CONTENT} FROM audit_auditevent WHERE id = %s", [event.pk])
        raw = cursor.fetchone()
    assert chain.canonical(orm, chain.GENESIS) == chain.canonical(raw, chain.GENESIS, raw=True)


def test_the_chain_key_follows_the_master_key_unless_set(settings):
    settings.AUDIT_CHAIN_KEY = ""
    derived = chain.chain_key()
    settings.AUDIT_CHAIN_KEY = settings.MASTER_KEY
    assert chain.chain_key() == derived
    settings.MASTER_KEY = "a rotated master key " + "r" * 40
    assert chain.chain_key() == derived  # the chain keeps its key across the rotation


def test_heads_are_exported_to_and_checked_against_s3(events, settings, seaweed):
    import uuid

    from portal.storage import get_store

    settings.STORAGE_BACKEND = "s3"
    settings.S3_ENDPOINT, settings.S3_REGION = seaweed.endpoint_url, seaweed.region
    settings.S3_ACCESS_KEY, settings.S3_SECRET_KEY = seaweed.access_key, seaweed.secret_key
    settings.S3_BUCKET = f"coffer-audit-{uuid.uuid4().hex[:8]}"
    get_store().ensure_bucket()
    events(3)
    run = chain.chain_maintain()
    assert run.exported == 1
    key = ChainCheckpoint.objects.get().exported_key
    body = seaweed.client().get_object(Bucket=settings.S3_BUCKET, Key=key)["Body"].read()
    assert json.loads(body)["hash"] == ChainState.objects.get().head_hash
    assert verify()[0] == 0
    seaweed.client().put_object(Bucket=settings.S3_BUCKET, Key=key, Body=body.replace(b'"hash": "', b'"hash": "0'))
    code, output = verify()
    assert code == 1 and "differs from the exported head" in output
