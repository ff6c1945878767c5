"""Attacks on the storage lifecycle (tiers, packed containers, compaction,
restores from archive tiers, promotion). Each test is one attack; it passes
when the defence holds.

A packed file is a window of a container that also holds its neighbours'
bytes and an index: no door may hand out a byte outside the window. Every
boundary holds at every step: restores, notifications and the console
re-check who asks, and moves racing deletions never leave a version
pointing at missing or wrong bytes."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from portal.audit.actions import Action
from portal.files.models import Blob, FileVersion
from portal.files.services import maintenance
from portal.lifecycle import runs
from portal.lifecycle.models import BlobRestore, SpaceTierPolicy
from portal.lifecycle.restores import restores_finish
from portal.notify.models import Kind, Notification
from portal.shares.services import share_link_create
from portal.spaces.models import Membership
from portal.spaces.services import space_create
from portal.storage.tiers import HOT, placement_open
from tests.dav import conftest as dav_fixtures
from tests.helpers import events
from tests.lifecycle import conftest as lifecycle_fixtures
from tests.lifecycle.conftest import age, blob_of, configure_tiers, content, stored

# Fixtures of the lifecycle and WebDAV tests (a cold tier, aged files, a live WebDAV server).
policy, cold, s3_tiers, team = (lifecycle_fixtures.policy, lifecycle_fixtures.cold, lifecycle_fixtures.s3_tiers,
                                lifecycle_fixtures.team)
live_dav, alice_dav, dav_user_of = dav_fixtures.live_dav, dav_fixtures.alice_dav, dav_fixtures.dav_user_of

pytestmark = pytest.mark.django_db

NEIGHBOURS = {"/a.bin": b"A" * 4000, "/b.png": b"B" * 5000, "/c.bin": b"C" * 3000}


@pytest.fixture
def archive(settings, policy, tmp_path):
    """An archive tier whose reads need a 30-minute restore first."""
    return configure_tiers(settings, {"archive": {"class": "archive", "backend": "local",
                                                  "root": str(tmp_path / "archive"), "restore_minutes": 30}})["archive"]


@pytest.fixture
def packed(alice, team, cold):
    """Three files packed side by side into one cold container; /b.png sits between the others."""
    versions = {path: stored(alice, team, path, data) for path, data in NEIGHBOURS.items()}
    age(*versions.values(), days=40)
    runs.tiering_run()
    blobs = [blob_of(v) for v in versions.values()]
    assert len({b.container_id for b in blobs}) == 1 and None not in {b.container_id for b in blobs}
    return versions


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def only_own_bytes(data: bytes, marker: bytes = b"B", size: int = 5000) -> bool:
    """``data`` is a piece of /b.png: its bytes alone, nothing of a neighbour or of the index."""
    return len(data) <= size and set(data) <= set(marker)


RANGES = ["bytes=0-999999", "bytes=-999999", "bytes=4990-", "bytes=4999-4999", "bytes=-1", "bytes=0-0,4999-6000",
          "bytes=4990-5100", "bytes=1-", "bytes=-5001", "bytes=0-4999"]


# --- a packed file's window --------------------------------------------------------------

@pytest.mark.parametrize("header", RANGES)
def test_no_range_on_the_files_api_reads_past_a_packed_file_into_its_neighbours(api, alice, packed, header):
    node_id = packed["/b.png"].node_id
    response = api.as_user(alice).get(f"/api/v1/files/{node_id}/content", HTTP_RANGE=header)
    assert response.status_code in (200, 206), response.content
    data = body(response)
    assert only_own_bytes(data) and len(data) == int(response["Content-Length"])
    if response.status_code == 206:
        assert response["Content-Range"].endswith("/5000")


@pytest.mark.parametrize("header", ["bytes=5000-", "bytes=5000-5100", "bytes=999999-"])
def test_a_range_starting_past_a_packed_file_is_refused_not_served_from_the_container(api, alice, packed, header):
    response = api.as_user(alice).get(f"/api/v1/files/{packed['/b.png'].node_id}/content", HTTP_RANGE=header)
    assert response.status_code == 416
    assert response["Content-Range"] == "bytes */5000"
    assert b"C" * 10 not in body(response)


def test_an_if_range_that_fails_sends_the_packed_file_whole_and_nothing_more(api, alice, packed):
    response = api.as_user(alice).get(f"/api/v1/files/{packed['/b.png'].node_id}/content",
                                      HTTP_RANGE="bytes=4000-", HTTP_IF_RANGE='"not-the-tag"')
    assert response.status_code == 200
    assert body(response) == NEIGHBOURS["/b.png"]


def test_a_head_on_a_packed_file_tells_its_own_size_and_tag_not_the_containers(api, alice, packed):
    version = packed["/b.png"]
    response = api.as_user(alice).head(f"/api/v1/files/{version.node_id}/content")
    assert response.status_code == 200
    assert response["Content-Length"] == "5000"
    assert response["ETag"] == f'"{blob_of(version).sha256}"'
    assert not events(Action.FILE_DOWNLOADED)


def test_the_last_file_of_a_container_never_brings_the_index_along(api, alice, packed):
    container = blob_of(packed["/c.bin"]).container
    last = max(packed.values(), key=lambda v: blob_of(v).pack_offset)
    for header in ({}, {"HTTP_RANGE": "bytes=10-"}, {"HTTP_RANGE": "bytes=-999999"}):
        data = body(api.as_user(alice).get(f"/api/v1/files/{last.node_id}/content", **header))
        assert b"coffer-container" not in data and b"COFFERPK" not in data
        assert len(data) <= last.size < container.size


@pytest.mark.parametrize("header", ["bytes=0-999999", "bytes=-999999", "bytes=4990-", "bytes=0-0,4999-6000"])
def test_the_viewer_bytes_of_a_packed_image_stay_inside_the_image(alice, team, packed, header):
    version = packed["/b.png"]
    browser = Client()
    browser.force_login(alice)
    response = browser.get(f"/spaces/{team.pk}/items/{version.node_id}/view/bytes", HTTP_RANGE=header)
    assert response.status_code in (200, 206), response.content[:300]
    assert only_own_bytes(body(response))


@pytest.mark.django_db(transaction=True)
def test_webdav_ranges_on_a_packed_file_stay_inside_the_file(live_dav, alice_dav, alice, cold):
    space = space_create(actor=alice, name="Dav")
    versions = {path: stored(alice, space, path, data) for path, data in NEIGHBOURS.items()}
    age(*versions.values(), days=40)
    runs.tiering_run()
    assert blob_of(versions["/b.png"]).container_id is not None
    session = alice_dav.session()
    for header in RANGES + ["bytes=5000-"]:
        response = session.get(live_dav.dav(f"/{space.slug}/b.png"), headers={"Range": header})
        if response.status_code == 416:
            continue
        assert response.status_code in (200, 206), (header, response.status_code)
        assert only_own_bytes(response.content), header


def share_of(alice, node_id, **options) -> str:
    _, token = share_link_create(actor=alice, node_id=node_id, permission="download", **options)
    return token


@pytest.mark.parametrize("header", ["bytes=0-999999", "bytes=-999999", "bytes=4990-", "bytes=0-0,4999-6000"])
def test_a_share_link_download_of_a_packed_file_stays_inside_the_file(alice, packed, header):
    token = share_of(alice, packed["/b.png"].node_id)
    response = Client(REMOTE_ADDR="203.0.113.9").get(f"/s/{token}/download", HTTP_RANGE=header)
    assert response.status_code in (200, 206), response.content[:300]
    assert only_own_bytes(body(response))


def test_a_share_link_zip_of_a_folder_of_packed_files_holds_each_file_exactly(alice, team, cold):
    import zipfile

    versions = {f"/box{path}": stored(alice, team, f"/box{path}", data) for path, data in NEIGHBOURS.items()}
    age(*versions.values(), days=40)
    runs.tiering_run()
    folder = FileVersion.objects.get(pk=versions["/box/a.bin"].pk).node.parent_id
    token = share_of(alice, folder)
    response = Client(REMOTE_ADDR="203.0.113.9").get(f"/s/{token}/zip")
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(body(response)))
    assert {name: archive.read(name) for name in archive.namelist()} == {p[1:]: d for p, d in NEIGHBOURS.items()}


def test_a_range_from_a_later_byte_of_a_packed_file_does_not_slip_past_a_links_download_limit(alice, packed):
    token = share_of(alice, packed["/b.png"].node_id, max_downloads=1)
    first = Client(REMOTE_ADDR="203.0.113.9").get(f"/s/{token}/download", HTTP_RANGE="bytes=1-")
    assert first.status_code == 206 and only_own_bytes(body(first))
    for header in ("bytes=1-", "bytes=-4999", "bytes=2-"):
        again = Client(REMOTE_ADDR="203.0.113.10").get(f"/s/{token}/download", HTTP_RANGE=header)
        assert again.status_code in (403, 404, 410), (header, again.status_code)
        assert b"B" * 100 not in body(again)


def test_a_download_of_a_packed_file_is_audited_once_per_start_and_never_for_head(api, alice, packed):
    url = f"/api/v1/files/{packed['/b.png'].node_id}/content"
    client = api.as_user(alice)
    client.get(url, HTTP_RANGE="bytes=-999999")      # the whole file by a suffix: a start
    client.get(url, HTTP_RANGE="bytes=0-0,10-20")    # several ranges: answered whole, a start
    client.head(url)
    client.get(url, HTTP_IF_NONE_MATCH=f'"{blob_of(packed["/b.png"]).sha256}"')  # 304: nothing handed out
    assert len(events(Action.FILE_DOWNLOADED)) == 2


def test_search_extraction_and_previews_read_only_the_packed_files_own_bytes(packed):
    version = packed["/b.png"]
    placement = blob_of(version).placement
    assert placement.packed
    with placement_open(placement, start=0, end=10**9) as stream:
        assert stream.read() == NEIGHBOURS["/b.png"]
    with placement_open(placement, start=4999) as stream:
        assert stream.read() == b"B"


# --- restores ------------------------------------------------------------------------------

def archived(alice, team, path: str, data: bytes, *, days: int = 400):
    version = stored(alice, team, path, data)
    age(version, days=days)
    runs.tiering_run()
    assert blob_of(version).tier == "archive"
    return version


def test_an_upload_of_bytes_another_space_keeps_in_archive_downloads_at_once_and_tells_nothing(
        api, alice, bob, team, archive):
    """Dedup crosses spaces: a stranger who uploads a guess of an archived
    file must not learn from a "restoring" answer that somebody holds it."""
    secret = b"salary review 2019: " + b"x" * 3000
    archived(alice, team, "/hr/salaries.txt", secret)
    guess = stored(bob, space_create(actor=bob, name="Bob's"), "/guess.txt", secret)
    assert blob_of(guess).sha256 == blob_of(FileVersion.objects.get(node__name="salaries.txt")).sha256

    assert content(api.as_user(bob), guess.node_id) == (200, secret)
    assert not BlobRestore.objects.exists()
    assert not events(Action.BLOB_RESTORE_REQUESTED)
    assert content(api.as_user(alice), FileVersion.objects.get(node__name="salaries.txt").node_id) == (200, secret)


def test_an_outsider_gets_the_same_not_found_for_an_archived_file_as_for_no_file(api, alice, bob, team, archive):
    version = archived(alice, team, "/old.txt", b"old" * 100)
    client = api.as_user(bob)
    real = client.get(f"/api/v1/files/{version.node_id}/content")
    missing = client.get(f"/api/v1/files/{version.node_id + 100000}/content")
    assert real.status_code == missing.status_code == 404
    assert real.json()["code"] == missing.json()["code"]
    assert client.head(f"/api/v1/files/{version.node_id}/content").status_code == 404
    assert not BlobRestore.objects.exists()


def test_a_link_to_one_file_cannot_restore_another_archived_file(alice, team, archive):
    archived(alice, team, "/vault/secret.bin", b"s" * 2000)
    shown = stored(alice, team, "/vault/public.txt", b"hello")
    token = share_of(alice, shown.node_id)
    visitor = Client(REMOTE_ADDR="203.0.113.9")
    for path in ("secret.bin", "../secret.bin", "..%2Fsecret.bin"):
        response = visitor.get(f"/s/{token}/download/{path}")
        assert response.status_code in (400, 404), (path, response.status_code)
    assert not BlobRestore.objects.exists()


def test_a_member_removed_after_asking_is_not_told_about_the_restore_and_a_rejoined_stranger_is_not_either(
        api, alice, bob, team, archive):
    Membership.objects.create(space=team, user=bob, role="viewer")
    version = archived(alice, team, "/board/minutes.txt", b"m" * 1000)
    assert api.as_user(bob).get(f"/api/v1/files/{version.node_id}/content").status_code == 503
    Membership.objects.filter(space=team, user=bob).delete()
    assert api.as_user(bob).get(f"/api/v1/files/{version.node_id}/content").status_code == 404

    restores_finish(now=timezone.now() + timedelta(minutes=31))
    assert not Notification.objects.filter(user=bob, kind=Kind.FILE_READY).exists()


def test_many_readers_heads_and_zips_ask_for_one_restore_of_an_archived_file(api, alice, bob, team, archive):
    Membership.objects.create(space=team, user=bob, role="viewer")
    version = archived(alice, team, "/box/big.bin", b"z" * 4000)
    for user in (alice, bob, alice, bob):
        client = api.as_user(user)
        assert client.get(f"/api/v1/files/{version.node_id}/content").status_code == 503
        client.head(f"/api/v1/files/{version.node_id}/content")
        assert client.get(f"/api/v1/spaces/{team.pk}/zip/box").status_code == 503
    assert BlobRestore.objects.count() == 1
    assert len(events(Action.BLOB_RESTORE_REQUESTED)) == 1


# --- the console's policies ----------------------------------------------------------------

def test_a_member_who_is_not_an_administrator_cannot_set_a_space_policy(alice, team, cold):
    browser = Client()
    browser.force_login(alice)   # the space's owner, not an administrator
    response = browser.post("/manage/storage/policies/", {"space": team.slug, "tier": "cold", "current_days": "1",
                                                          "old_days": "1", "trash_days": "1"})
    assert response.status_code == 404
    assert browser.post(f"/manage/storage/policies/{team.pk}/clear/").status_code == 404
    assert not SpaceTierPolicy.objects.exists()


def test_a_forged_cross_site_post_cannot_set_a_space_policy_for_an_administrator(admin, team, cold):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin)
    response = browser.post("/manage/storage/policies/", {"space": team.slug, "tier": "", "current_days": "0",
                                                          "old_days": "0", "trash_days": "0"})
    assert response.status_code == 403
    assert not SpaceTierPolicy.objects.exists()


@pytest.mark.parametrize("slug", ["", "nope", " ", "../x"])
def test_a_policy_for_an_unknown_or_trashed_space_is_refused(admin, alice, team, cold, slug):
    gone = space_create(actor=alice, name="Gone")
    gone.deleted_at = timezone.now()
    gone.save(update_fields=["deleted_at"])
    browser = Client()
    browser.force_login(admin)
    for value in (slug, gone.slug):
        response = browser.post("/manage/storage/policies/", {"space": value, "tier": "cold", "current_days": "1",
                                                              "old_days": "1", "trash_days": "1"})
        assert response.status_code in (302, 400, 404)
    assert not SpaceTierPolicy.objects.exists()


def test_an_upload_of_bytes_another_space_keeps_packed_in_a_cold_bucket_is_served_like_any_new_file(
        api, alice, bob, team, s3_tiers):
    """On S3 a cold twin would answer with a URL of the cold bucket, or stream
    from a container: either tells the uploader that somebody stores the bytes."""
    secret = b"merger plan: " + b"y" * 2000
    owner = stored(alice, team, "/deal.txt", secret)
    age(owner, days=40)
    runs.tiering_run()
    container = blob_of(owner).container
    assert container is not None
    mine = stored(bob, space_create(actor=bob, name="Bob's"), "/guess.txt", b"not a secret")
    guess = stored(bob, mine.node.space, "/guess2.txt", secret)

    answers = [api.as_user(bob).get(f"/api/v1/files/{v.node_id}/content") for v in (mine, guess)]
    assert [a.status_code for a in answers] == [302, 302]
    hosts = [a["Location"].split("?")[0].rsplit("/", 3)[0] for a in answers]
    assert hosts[0] == hosts[1]          # the same (hot) bucket for a new file as for a guessed one
    assert content(api.as_user(bob), guess.node_id) == (200, secret)
    assert content(api.as_user(alice), owner.node_id) == (200, secret)
    container.refresh_from_db()
    assert container.live_bytes == 0     # the container's copy is a hole now


# --- moves racing deletions, promotions and compaction -----------------------------------------

def purged(actor, version) -> None:
    from portal.files.services.tree import node_trash, trash_purge

    node_trash(actor=actor, node_id=version.node_id)
    trash_purge(actor=actor, node_id=version.node_id)


def all_versions_read_their_own_bytes(expected: dict) -> None:
    """After every grace period and sweep: each surviving version reads exactly its bytes."""
    from portal.lifecycle import sweeps

    later = timezone.now() + timedelta(days=3)
    maintenance.blobs_collect()
    sweeps.superseded_delete(now=later)
    sweeps.abandoned_containers_delete(now=later)
    sweeps.tier_orphans_delete(now=later)
    for version_id, data in expected.items():
        blob = Blob.objects.get(versions__pk=version_id)
        with placement_open(blob.placement) as stream:
            assert stream.read() == data, (version_id, blob.placement)


def during(monkeypatch, module, name: str, action, *, times: int = 1):
    """Run ``action`` while ``module.name`` (a real step of a move) is under way, ``times`` times."""
    real, left = getattr(module, name), [times]

    def step(*args, **kwargs):
        result = real(*args, **kwargs)
        if left[0] > 0:
            left[0] -= 1
            action()
        return result

    monkeypatch.setattr(module, name, step)


@pytest.mark.django_db(transaction=True)
def test_a_file_purged_and_collected_while_its_container_is_written_leaves_no_version_on_missing_bytes(
        alice, cold, monkeypatch):
    from portal.lifecycle import moves

    space = space_create(actor=alice, name="Race")
    datas = {f"/r{i}.bin": bytes([65 + i]) * (1000 + i) for i in range(8)}
    versions = {path: stored(alice, space, path, data) for path, data in datas.items()}
    age(*versions.values(), days=40)
    victim = versions.pop("/r3.bin")
    during(monkeypatch, moves, "write_container", lambda: (purged(alice, victim), maintenance.blobs_collect()))

    runs.tiering_run()

    assert not Blob.objects.filter(pk=victim.blob_id).exists()
    container = blob_of(versions["/r0.bin"]).container
    assert container.live_bytes == sum(v.size for v in versions.values())
    all_versions_read_their_own_bytes({v.pk: datas[p] for p, v in versions.items()})


@pytest.mark.django_db(transaction=True)
def test_a_blob_promoted_while_compaction_rewrites_its_container_reads_right_either_way(
        alice, cold, monkeypatch, settings):
    from portal.lifecycle import moves

    space = space_create(actor=alice, name="Race")
    datas = {f"/p{i}.bin": bytes([97 + i]) * (1500 + i) for i in range(6)}
    versions = {path: stored(alice, space, path, data) for path, data in datas.items()}
    age(*versions.values(), days=40)
    runs.tiering_run()
    for path in ("/p0.bin", "/p1.bin", "/p2.bin"):
        purged(alice, versions.pop(path))
    maintenance.blobs_collect()
    promoted = versions["/p4.bin"]
    # The promotion's copy is made from the old container while compaction switches to a new one.
    during(monkeypatch, moves, "write_container", lambda: runs.blob_promote(blob_id=promoted.blob_id))

    report = runs.containers_compact()

    assert report["rewritten"] == 1
    assert blob_of(promoted).tier == HOT
    all_versions_read_their_own_bytes({v.pk: datas[p] for p, v in versions.items()})


@pytest.mark.django_db(transaction=True)
def test_compaction_while_a_promotion_copies_leaves_the_blob_in_the_new_container_and_readable(
        alice, cold, monkeypatch):
    from portal.lifecycle import moves

    space = space_create(actor=alice, name="Race")
    datas = {f"/q{i}.bin": bytes([48 + i]) * (1200 + i) for i in range(6)}
    versions = {path: stored(alice, space, path, data) for path, data in datas.items()}
    age(*versions.values(), days=40)
    runs.tiering_run()
    for path in ("/q0.bin", "/q1.bin", "/q2.bin"):
        purged(alice, versions.pop(path))
    maintenance.blobs_collect()
    promoted = versions["/q4.bin"]
    during(monkeypatch, moves, "copy_blob", lambda: runs.containers_compact())

    assert runs.blob_promote(blob_id=promoted.blob_id) == 0   # the source moved under it: nothing switched
    assert blob_of(promoted).container.state == "live"
    all_versions_read_their_own_bytes({v.pk: datas[p] for p, v in versions.items()})


@pytest.mark.django_db(transaction=True)
def test_a_guess_uploaded_while_compaction_rewrites_the_container_leaves_both_files_readable(
        alice, bob, cold, monkeypatch):
    from portal.lifecycle import moves

    space = space_create(actor=alice, name="Race")
    datas = {f"/g{i}.bin": bytes([110 + i]) * (900 + i) for i in range(5)}
    versions = {path: stored(alice, space, path, data) for path, data in datas.items()}
    age(*versions.values(), days=40)
    runs.tiering_run()
    for path in ("/g0.bin", "/g1.bin", "/g2.bin"):
        purged(alice, versions.pop(path))
    maintenance.blobs_collect()
    guessed = {}
    theirs = space_create(actor=bob, name="Bob's")
    during(monkeypatch, moves, "write_container",
           lambda: guessed.update(v=stored(bob, theirs, "/guess.bin", datas["/g3.bin"])))

    runs.containers_compact()

    assert blob_of(versions["/g3.bin"]).tier == HOT
    all_versions_read_their_own_bytes({**{v.pk: datas[p] for p, v in versions.items()},
                                       guessed["v"].pk: datas["/g3.bin"]})


@pytest.mark.django_db(transaction=True)
def test_a_file_locked_while_its_copy_is_made_is_not_switched_and_its_copy_is_dropped(alice, cold, monkeypatch,
                                                                                      settings):
    from portal.lifecycle import moves
    from portal.locks.services import lock_acquire

    settings.PACK_MAX_BLOB = 100
    space = space_create(actor=alice, name="Race")
    data = b"L" * 5000
    version = stored(alice, space, "/contract.docx", data)
    age(version, days=40)
    during(monkeypatch, moves, "copy_blob", lambda: lock_acquire(actor=alice, node=version.node))

    assert runs.tiering_run().blobs == 0

    assert blob_of(version).tier == HOT
    assert not list(moves.tier_store("cold").iter_objects("tiers/cold/"))
    all_versions_read_their_own_bytes({version.pk: data})


@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_collects_and_compactions_in_threads_never_leave_a_version_on_wrong_bytes(alice, cold):
    from tests.helpers import at_once

    space = space_create(actor=alice, name="Race")
    datas = {f"/t{i}.bin": (b"%03d" % i) * (300 + i) for i in range(40)}
    versions = {path: stored(alice, space, path, data) for path, data in datas.items()}
    age(*versions.values(), days=40)
    doomed = [versions.pop(f"/t{i}.bin") for i in range(0, 40, 3)]

    def purge_all():
        for version in doomed:
            purged(alice, version)
            maintenance.blobs_collect()

    results = at_once(runs.tiering_run, purge_all, runs.containers_compact, maintenance.blobs_collect)
    assert not [r for r in results if isinstance(r, Exception)], results
    runs.containers_compact()
    all_versions_read_their_own_bytes({v.pk: datas[p] for p, v in versions.items()})


# --- a tier's prefix ---------------------------------------------------------------------------

@pytest.mark.parametrize("prefix", ["", "backups/", "audit/", "derived/", "blobs/"])
def test_a_tier_prefix_that_would_let_the_orphan_sweep_loose_on_the_portals_own_objects_is_refused(prefix):
    """The tier sweep deletes whatever under the prefix no tier row names: an
    empty prefix in the hot bucket would be every file, backup pack and audit head."""
    from django.core.exceptions import ImproperlyConfigured

    from portal.core.tier_settings import parse_tiers

    with pytest.raises(ImproperlyConfigured):
        parse_tiers(json.dumps({"cold": {"class": "cold", "prefix": prefix}}), default={})


def test_two_tiers_whose_prefixes_nest_are_refused():
    from django.core.exceptions import ImproperlyConfigured

    from portal.core.tier_settings import parse_tiers

    with pytest.raises(ImproperlyConfigured):
        parse_tiers(json.dumps({"cold": {"class": "cold", "prefix": "tiers/"},
                                "archive": {"class": "archive", "prefix": "tiers/archive/"}}), default={})


@pytest.mark.django_db(transaction=True)
def test_the_tier_sweep_never_deletes_hot_files_backup_packs_or_audit_objects(alice, settings, seaweed):
    """A tier in the hot bucket (a storage class, as docs/tiers.md suggests): its sweep stays under its prefix."""
    from portal.storage import get_store
    from tests.files.support_s3 import use_s3

    store = use_s3(settings, seaweed)
    configure_tiers(settings, {"cold": {"class": "cold", "backend": "s3", "endpoint": seaweed.endpoint_url,
                                        "bucket": settings.S3_BUCKET, "region": seaweed.region,
                                        "access_key": seaweed.access_key, "secret_key": seaweed.secret_key}})
    version = stored(alice, space_create(actor=alice, name="Hot"), "/keep.txt", b"keep me")
    store.put("backups/packs/aa/pack1", io.BytesIO(b"pack"))
    store.put("audit/heads/1.json", io.BytesIO(b"{}"))
    from portal.lifecycle import sweeps

    sweeps.tier_orphans_delete(now=timezone.now() + timedelta(days=30))

    assert get_store().exists("backups/packs/aa/pack1") and get_store().exists("audit/heads/1.json")
    all_versions_read_their_own_bytes({version.pk: b"keep me"})


@pytest.mark.django_db(transaction=True)
def test_a_file_purged_just_before_its_copy_is_made_does_not_stop_the_run_for_everyone_else(alice, cold, monkeypatch,
                                                                                           settings):
    """A member deleting a file at the wrong moment must not be a way to keep every other file hot."""
    from portal.lifecycle import moves

    settings.PACK_MAX_BLOB = 100          # every file moves as an object of its own
    space = space_create(actor=alice, name="Race")
    first = stored(alice, space, "/a-first.bin", b"1" * 5000)
    second = stored(alice, space, "/b-second.bin", b"2" * 5000)
    age(first, second, days=40)
    real_copy, first_key = moves.copy_blob, blob_of(first).key

    def purge_then_copy(source, *, sha256, to):
        if source.key == first_key:
            purged(alice, first)
            maintenance.blobs_collect()   # the row and the hot object are gone before the copy reads it
        return real_copy(source, sha256=sha256, to=to)

    monkeypatch.setattr(moves, "copy_blob", purge_then_copy)

    report = runs.tiering_run()

    assert blob_of(second).tier == "cold" and report.blobs == 1
    all_versions_read_their_own_bytes({second.pk: b"2" * 5000})


@pytest.mark.django_db(transaction=True)
def test_a_small_file_purged_just_before_its_container_is_written_leaves_the_others_packed(alice, cold, monkeypatch):
    from portal.lifecycle import moves

    space = space_create(actor=alice, name="Race")
    datas = {f"/s{i}.bin": bytes([75 + i]) * (800 + i) for i in range(5)}
    versions = {path: stored(alice, space, path, data) for path, data in datas.items()}
    age(*versions.values(), days=40)
    victim = versions.pop("/s2.bin")
    real_write = moves.write_container

    def purge_then_write(key, tier, blobs):
        purged(alice, victim)
        maintenance.blobs_collect()
        return real_write(key, tier, blobs)

    monkeypatch.setattr(moves, "write_container", purge_then_write)

    report = runs.tiering_run()

    assert report.blobs == 4 and report.failed == 0
    assert all(blob_of(v).container_id for v in versions.values())
    all_versions_read_their_own_bytes({v.pk: datas[p] for p, v in versions.items()})


@pytest.mark.django_db(transaction=True)
def test_webdav_reads_of_an_archived_file_answer_unavailable_hand_out_no_byte_and_ask_for_one_restore(
        live_dav, alice_dav, alice, archive):
    space = space_create(actor=alice, name="Dav")
    version = stored(alice, space, "/old.bin", b"R" * 3000)
    age(version, days=400)
    runs.tiering_run()
    assert blob_of(version).tier == "archive"
    session = alice_dav.session()
    for header in ({}, {"Range": "bytes=100-"}, {"Range": "bytes=-10"}):
        response = session.get(live_dav.dav(f"/{space.slug}/old.bin"), headers=header)
        assert response.status_code == 503, (header, response.status_code)
        assert b"R" * 10 not in response.content
    assert BlobRestore.objects.count() == 1
    assert not events(Action.FILE_DOWNLOADED)
