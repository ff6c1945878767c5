"""Reads of files in colder tiers through every door: the restore step of
archive tiers (answer, notification, audit), promotion back to the hot
store, WebDAV and share links."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.audit.actions import Action
from portal.files.models import Blob
from portal.lifecycle import runs
from portal.lifecycle.models import BlobRestore, RestoreState
from portal.lifecycle.restores import restores_finish
from portal.notify.models import Kind, Notification
from portal.spaces.models import Membership
from portal.storage.tiers import HOT
from tests.helpers import events
from tests.dav.conftest import alice_dav, dav, dav_user_of, live_dav  # noqa: F401 - the live WebDAV server
from tests.lifecycle.conftest import age, blob_of, configure_tiers, content, stored
from tests.outbox.support import follow_ups


@pytest.fixture
def archive(settings, policy, tmp_path):
    """An archive tier whose reads need a 30-minute restore first."""
    return configure_tiers(settings, {"archive": {"class": "archive", "backend": "local",
                                                  "root": str(tmp_path / "archive"), "restore_minutes": 30}})["archive"]


@pytest.fixture
def client(api, alice):
    return api.as_user(alice)


@pytest.mark.django_db
def test_an_archived_file_answers_restoring_then_downloads_once_ready_and_the_reader_is_told(
        client, alice, team, archive):
    data = os.urandom(5000)
    version = stored(alice, team, "/2019/ledger.xlsx", data)
    age(version, days=400)
    runs.tiering_run()
    assert blob_of(version).tier == "archive"

    first = client.get(f"/api/v1/files/{version.node_id}/content")
    assert first.status_code == 503
    assert first.json()["code"] == "restoring" and first.json()["detail"]["ready_in_minutes"] == 30
    assert first["Retry-After"] == "1800"
    assert client.get(f"/api/v1/files/{version.node_id}/content").status_code == 503   # joins, not a second request
    assert BlobRestore.objects.get().state == RestoreState.PENDING
    assert len(events(Action.BLOB_RESTORE_REQUESTED)) == 1

    assert restores_finish() == {"ready": 0, "expired": 0}   # not yet
    assert restores_finish(now=timezone.now() + timedelta(minutes=31))["ready"] == 1

    note = Notification.objects.get(user=alice, kind=Kind.FILE_READY)
    assert note.params["name"] == "ledger.xlsx" and str(version.node_id) in note.url
    assert content(client, version.node_id) == (200, data)
    assert len(events(Action.BLOB_RESTORED)) == 1


@pytest.mark.django_db
def test_a_reader_who_lost_access_before_the_restore_finished_is_not_told(api, alice, bob, team, archive):
    Membership.objects.create(space=team, user=bob, role="viewer")
    version = stored(alice, team, "/old.txt", b"old" * 100)
    age(version, days=400)
    runs.tiering_run()
    assert api.as_user(bob).get(f"/api/v1/files/{version.node_id}/content").status_code == 503
    Membership.objects.filter(space=team, user=bob).delete()

    restores_finish(now=timezone.now() + timedelta(minutes=31))

    assert not Notification.objects.filter(user=bob, kind=Kind.FILE_READY).exists()


@pytest.mark.django_db
def test_an_outsider_gets_not_found_and_asks_for_no_restore(api, alice, bob, team, archive):
    version = stored(alice, team, "/old.txt", b"old" * 100)
    age(version, days=400)
    runs.tiering_run()

    assert api.as_user(bob).get(f"/api/v1/files/{version.node_id}/content").status_code == 404
    assert not BlobRestore.objects.exists()


@pytest.mark.django_db
def test_a_zip_with_archived_files_asks_for_their_restores_before_sending_any_byte(client, alice, team, archive):
    version = stored(alice, team, "/box/old.txt", b"old" * 100)
    stored(alice, team, "/box/new.txt", b"new")
    age(version, days=400)
    runs.tiering_run()

    response = client.get(f"/api/v1/spaces/{team.pk}/zip/box")

    assert response.status_code == 503 and response.json()["code"] == "restoring"
    assert BlobRestore.objects.filter(blob=blob_of(version)).exists()


@pytest.mark.django_db
def test_a_read_of_a_cold_file_brings_it_back_to_the_hot_store_when_the_policy_says_so(
        client, alice, team, cold, settings, django_capture_on_commit_callbacks):
    settings.TIER_PROMOTE_ON_READ = True
    data = os.urandom(4000)
    version = stored(alice, team, "/again.bin", data)
    age(version, days=40)
    runs.tiering_run()
    packed_in = blob_of(version).container

    with django_capture_on_commit_callbacks() as queued:
        assert content(client, version.node_id) == (200, data)
    assert follow_ups(queued, "lifecycle.promote") == [version.blob_id], "the promotion is queued with the read"

    assert runs.blob_promote(blob_id=version.blob_id) == len(data)
    blob = blob_of(version)
    assert (blob.tier, blob.container_id, blob.pack_offset) == (HOT, None, None)
    packed_in.refresh_from_db()
    assert packed_in.live_bytes == 0, "its bytes in the container are a hole now"
    assert content(client, version.node_id) == (200, data)
    assert runs.blob_promote(blob_id=version.blob_id) == 0   # twice is harmless


@pytest.mark.django_db(transaction=True)
def test_webdav_reads_a_packed_file_whole_and_by_range(dav, alice, team, cold):
    data = os.urandom(6000)
    version = stored(alice, team, "/dav.bin", data)
    age(version, days=40)
    runs.tiering_run()
    assert blob_of(version).container_id is not None

    whole = dav.get(f"{dav.base}/dav.bin")
    assert whole.status_code == 200 and whole.content == data
    part = dav.get(f"{dav.base}/dav.bin", headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == data[10:20]


@pytest.mark.django_db
def test_a_share_link_downloads_a_packed_file(client, alice, team, cold):
    data = os.urandom(3000)
    version = stored(alice, team, "/shared.bin", data)
    age(version, days=40)
    runs.tiering_run()
    link = client.post("/api/v1/shares", {"node": version.node_id, "permission": "download"}, format="json")
    assert link.status_code == 201, link.content
    from django.test import Client

    visitor = Client(REMOTE_ADDR="203.0.113.7", HTTP_USER_AGENT="pytest-browser")
    response = visitor.get(f"/s/{link.json()['token']}/download")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data
    assert Blob.objects.get(pk=version.blob_id).tier == "cold"


@pytest.mark.django_db
def test_many_reads_of_a_cold_file_queue_one_promotion(client, alice, team, cold, settings,
                                                       django_capture_on_commit_callbacks):
    settings.TIER_PROMOTE_ON_READ = True
    version = stored(alice, team, "/popular.bin", os.urandom(2000))
    age(version, days=40)
    runs.tiering_run()

    with django_capture_on_commit_callbacks() as queued:
        for _ in range(5):
            assert content(client, version.node_id)[0] == 200
    assert len(follow_ups(queued, "lifecycle.promote")) == 1
