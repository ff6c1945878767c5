"""The housekeeping over stored bytes, run the way Celery runs it (the
service functions and tasks called directly, on the real local store):
hashing and deduplication, the upload expiry sweep, the orphan sweep and
blob collection. Each is safe to run twice."""

from __future__ import annotations

import hashlib
import io
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from portal.audit.actions import Action
from portal.audit.models import Outcome
from portal.files import tasks
from portal.files.models import Blob, FileVersion, Integrity, UploadSession, UploadState
from portal.files.services import maintenance, uploads
from portal.spaces.services import space_create
from portal.storage import UploadNotFound, get_store
from tests.helpers import assert_error, events, last_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(signed_in, alice):
    return signed_in(alice)


def current_blob(node_id) -> Blob:
    return FileVersion.objects.select_related("blob").filter(node_id=node_id).order_by("-number").first().blob


def stored(key) -> bytes:
    with get_store().open(key) as stream:
        return stream.read()


def past_the_grace_period():
    return timezone.now() + timedelta(hours=settings.ORPHAN_GRACE_HOURS + 1)


def stray_object(data: bytes = b"nobody's") -> str:
    key = f"blobs/zz/{uuid.uuid4().hex}"
    get_store().put(key, io.BytesIO(data))
    return key


def expire(session_id) -> None:
    UploadSession.objects.filter(pk=session_id).update(expires_at=timezone.now() - timedelta(minutes=1))


# --- Hashing -------------------------------------------------------------------------------------------

def test_hashing_records_the_sha256_of_the_stored_object(client, team, upload):
    data = b"some content" * 1000
    meta = upload(client, team, "/f.bin", data)
    blob = current_blob(meta["id"])
    assert blob.sha256 is None and blob.integrity == Integrity.PENDING
    assert meta["sha256"] is None

    assert tasks.hash_blob(blob.id) == "hashed"
    blob.refresh_from_db()
    assert blob.sha256 == hashlib.sha256(data).hexdigest()
    assert blob.integrity == Integrity.VERIFIED
    assert client.get(f"/api/v1/files/{meta['id']}").json()["sha256"] == blob.sha256


def test_a_client_supplied_sha256_that_matches_is_verified(client, team, upload):
    meta = upload(client, team, "/f.bin", b"exact", with_sha256=True)
    blob = current_blob(meta["id"])
    assert maintenance.blob_hash(blob.id) == "hashed"
    blob.refresh_from_db()
    assert blob.integrity == Integrity.VERIFIED and blob.sha256 == hashlib.sha256(b"exact").hexdigest()


def test_a_client_supplied_sha256_that_does_not_match_is_flagged_and_audited(client, team, upload):
    meta = upload(client, team, "/f.bin", b"what arrived", sha256="0" * 64)
    blob = current_blob(meta["id"])
    assert maintenance.blob_hash(blob.id) == "mismatch"
    blob.refresh_from_db()
    assert blob.integrity == Integrity.MISMATCH
    event = last_event(Action.FILE_INTEGRITY_FAILED, space=team)
    assert event.outcome == Outcome.FAILURE and event.target_id == str(meta["id"])
    assert event.details == {"version": 1, "expected": "0" * 64,
                             "actual": hashlib.sha256(b"what arrived").hexdigest()}


def test_hashing_a_mismatched_blob_twice_raises_the_alarm_once(client, team, upload):
    meta = upload(client, team, "/f.bin", b"what arrived", sha256="0" * 64)
    blob = current_blob(meta["id"])
    maintenance.blob_hash(blob.id)
    maintenance.blob_hash(blob.id)
    assert len(events(Action.FILE_INTEGRITY_FAILED)) == 1
    blob.refresh_from_db()
    assert blob.integrity == Integrity.MISMATCH


def test_hashing_twice_is_harmless(client, team, upload):
    meta = upload(client, team, "/f.bin", b"content")
    blob = current_blob(meta["id"])
    assert maintenance.blob_hash(blob.id) == "hashed"
    assert maintenance.blob_hash(blob.id) == "nothing to do"
    blob.refresh_from_db()
    assert blob.sha256 == hashlib.sha256(b"content").hexdigest()


def test_hashing_a_blob_whose_object_is_missing_changes_nothing(db):
    blob = Blob.objects.create(key=f"blobs/zz/{uuid.uuid4().hex}", size=3)
    assert maintenance.blob_hash(blob.id) == "object missing"
    assert maintenance.blob_hash(987_654_321) == "nothing to do"
    blob.refresh_from_db()
    assert blob.sha256 is None and blob.integrity == Integrity.PENDING


# --- Deduplication -------------------------------------------------------------------------------------

def test_identical_uploads_end_as_one_blob_and_one_object(client, alice, team, upload):
    data = b"the same bytes" * 500
    other = space_create(actor=alice, name="Other")
    a = upload(client, team, "/a.bin", data)
    b = upload(client, other, "/b.bin", data)  # anywhere in the deployment
    first, second = current_blob(a["id"]), current_blob(b["id"])
    assert first.key != second.key

    assert maintenance.blob_hash(first.id) == "hashed"
    assert maintenance.blob_hash(second.id) == "deduplicated"
    assert maintenance.blob_hash(second.id) == "nothing to do"
    assert Blob.objects.count() == 1
    assert current_blob(b["id"]).pk == first.pk
    assert not Blob.objects.filter(pk=second.pk).exists()

    maintenance.orphans_sweep(now=past_the_grace_period())
    assert not get_store().exists(second.key), "the duplicate object is removed"
    assert stored(first.key) == data
    for meta in (a, b):
        assert stored(current_blob(meta["id"]).key) == data


def test_deduplication_repoints_every_version_that_used_the_duplicate(client, team, upload):
    data = b"shared"
    a = upload(client, team, "/a.bin", data)
    maintenance.blob_hash(current_blob(a["id"]).id)
    b = upload(client, team, "/b.bin", data)
    c = client.post(f"/api/v1/files/{b['id']}/copy", {"path": "/c.bin"}, format="json").json()
    upload(client, team, "/a.bin", b"v2")
    v3 = upload(client, team, "/a.bin", data)  # version 3 of /a.bin has the bytes again
    duplicate = current_blob(b["id"])

    assert maintenance.blob_hash(duplicate.id) == "deduplicated"
    assert maintenance.blob_hash(current_blob(v3["id"]).id) == "deduplicated"
    original = current_blob(a["id"])
    assert {current_blob(n).pk for n in (b["id"], c["id"])} == {FileVersion.objects.get(
        node_id=a["id"], number=1).blob_id}
    assert original.sha256 == hashlib.sha256(data).hexdigest()
    assert Blob.objects.filter(sha256=original.sha256).count() == 1


def test_different_content_is_not_merged(client, team, upload):
    a = upload(client, team, "/a.bin", b"one")
    b = upload(client, team, "/b.bin", b"two")
    assert maintenance.blob_hash(current_blob(a["id"]).id) == "hashed"
    assert maintenance.blob_hash(current_blob(b["id"]).id) == "hashed"
    assert Blob.objects.count() == 2


# --- The upload expiry sweep ---------------------------------------------------------------------------

def test_an_expired_open_upload_is_aborted_in_the_store_and_marked_expired(client, team, upload):
    data = b"half an upload"
    started = upload.start(client, team, "/f.bin", data).json()
    upload.send(client, started, data)
    session = UploadSession.objects.get(pk=started["id"])
    store = get_store()
    assert [p.number for p in store.multipart_list_parts(session.key, session.multipart_id)] == [1]
    expire(session.pk)

    assert maintenance.uploads_sweep() == {"aborted": 1, "orphaned": 0, "expired": 0, "released": 0}
    session.refresh_from_db()
    assert session.state == UploadState.EXPIRED
    with pytest.raises(UploadNotFound):
        store.multipart_list_parts(session.key, session.multipart_id)
    assert_error(upload.complete(client, session.pk), 409, "upload_closed")
    assert maintenance.uploads_sweep() == {"aborted": 0, "orphaned": 0, "expired": 0, "released": 0}, "harmless twice"


def test_the_sweep_leaves_uploads_that_have_not_expired_alone(client, team, upload):
    data = b"in flight"
    started = upload.start(client, team, "/f.bin", data).json()
    upload.send(client, started, data)
    assert tasks.sweep_uploads() == {"aborted": 0, "orphaned": 0, "expired": 0, "released": 0}
    assert UploadSession.objects.get(pk=started["id"]).state == UploadState.OPEN
    assert upload.complete(client, started["id"]).status_code == 201


def test_an_expired_completing_upload_is_never_aborted_in_the_store(client, alice, team, upload):
    """Claimed (step 1) but the store was never asked to assemble: the
    multipart upload may have completed, so its record is left alone."""
    data = b"claimed, then the portal died"
    started = upload.start(client, team, "/f.bin", data).json()
    upload.send(client, started, data)
    session, _ = uploads._claim(alice, started["id"])
    assert session.state == UploadState.COMPLETING
    expire(session.pk)

    maintenance.uploads_sweep()
    session.refresh_from_db()
    assert session.state == UploadState.EXPIRED
    parts = get_store().multipart_list_parts(session.key, session.multipart_id)
    assert [p.number for p in parts] == [1], "no multipart abort for a completing session"
    assert_error(upload.complete(client, session.pk), 409, "upload_closed")
    assert not FileVersion.objects.exists()


def test_an_expired_completing_upload_loses_its_assembled_object_when_no_blob_took_it(client, alice, team,
                                                                                       upload):
    data = b"assembled, then the portal died"
    started = upload.start(client, team, "/f.bin", data).json()
    upload.send(client, started, data)
    session, parts = uploads._claim(alice, started["id"])
    uploads._assemble(session, parts)
    assert get_store().exists(session.key)
    expire(session.pk)

    assert maintenance.uploads_sweep() == {"aborted": 0, "orphaned": 1, "expired": 0, "released": 0}
    assert not get_store().exists(session.key)
    assert UploadSession.objects.get(pk=session.pk).state == UploadState.EXPIRED
    assert not FileVersion.objects.exists()
    assert maintenance.uploads_sweep() == {"aborted": 0, "orphaned": 0, "expired": 0, "released": 0}


def test_an_expired_completing_upload_keeps_its_object_when_a_blob_took_it(client, team, upload):
    data = b"already a version"
    meta = upload(client, team, "/f.bin", data)
    session = UploadSession.objects.get(path="/f.bin")
    # As if the session were still marked completing when its version was made.
    UploadSession.objects.filter(pk=session.pk).update(state=UploadState.COMPLETING,
                                                       expires_at=timezone.now() - timedelta(minutes=1))
    maintenance.uploads_sweep()
    assert get_store().exists(session.key)
    assert stored(current_blob(meta["id"]).key) == data


# --- The orphan sweep and blob collection --------------------------------------------------------------

def test_the_orphan_sweep_removes_only_old_objects_nothing_refers_to(client, team, upload):
    store = get_store()
    kept = upload(client, team, "/f.bin", b"a file")
    kept_key = current_blob(kept["id"]).key
    orphan = stray_object()

    # An open session, and a completing one whose object is assembled but not yet a version.
    open_started = upload.start(client, team, "/open.bin", b"open").json()
    open_session = UploadSession.objects.get(pk=open_started["id"])
    store.put(open_session.key, io.BytesIO(b"open"))
    completing = upload.start(client, team, "/completing.bin", b"completing").json()
    upload.send(client, completing, b"completing")
    session, parts = uploads._claim(open_session.created_by, completing["id"])
    uploads._assemble(session, parts)

    maintenance.orphans_sweep()  # now: everything is younger than the grace period
    assert store.exists(orphan), "a young orphan may be an upload between steps"

    maintenance.orphans_sweep(now=past_the_grace_period())
    assert not store.exists(orphan)
    assert store.exists(kept_key) and stored(kept_key) == b"a file"
    assert store.exists(open_session.key)
    assert store.exists(session.key)
    assert maintenance.orphans_sweep(now=past_the_grace_period()) == 0, "harmless twice"
    assert store.exists(kept_key)


def test_sweeps_while_an_upload_is_in_flight_do_not_disturb_it(client, team, upload, settings):
    settings.UPLOAD_PART_SIZE = 5 * 1024 * 1024
    data = bytes(range(256)) * (24 * 1024 * 2)  # 12 MiB: three parts
    started = upload.start(client, team, "/big.bin", data).json()
    assert started["part_count"] == 3
    upload.send(client, {**started, "parts": started["parts"][:2]}, data)
    maintenance.orphans_sweep(now=past_the_grace_period())
    maintenance.uploads_sweep()
    maintenance.blobs_collect()
    upload.send(client, {**started, "parts": started["parts"][2:]}, data)
    done = upload.complete(client, started["id"])
    assert done.status_code == 201, done.content
    assert stored(current_blob(done.json()["id"]).key) == data


def test_blob_collection_removes_unused_blobs_only_and_is_harmless_twice(client, team, upload):
    used = upload(client, team, "/f.bin", b"in use")
    used_key = current_blob(used["id"]).key
    unused_key = stray_object(b"unused")
    Blob.objects.create(key=unused_key, size=6)

    assert tasks.collect_unused_blobs() == 1
    assert not Blob.objects.filter(key=unused_key).exists() and not get_store().exists(unused_key)
    assert Blob.objects.filter(key=used_key).exists() and get_store().exists(used_key)
    assert tasks.collect_unused_blobs() == 0


def test_every_task_run_twice_in_a_row_is_harmless(client, team, upload):
    meta = upload(client, team, "/f.bin", b"content")
    blob = current_blob(meta["id"])
    for _ in range(2):
        tasks.hash_blob(blob.id)
        tasks.collect_unused_blobs()
        tasks.sweep_uploads()
        tasks.sweep_orphan_objects()
        tasks.purge_expired_trash()
        tasks.apply_version_retention()
    blob.refresh_from_db()
    assert blob.integrity == Integrity.VERIFIED
    assert stored(blob.key) == b"content"
    assert client.get(f"/api/v1/files/{meta['id']}").json()["version"] == 1
