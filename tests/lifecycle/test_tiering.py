"""Tiering: which files move to a colder tier and when, and that every read
finds them there; on PostgreSQL, with a local cold tier and with SeaweedFS
buckets as both tiers."""

from __future__ import annotations

import os
import zipfile
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.audit.actions import Action
from portal.core.errors import Forbidden, InvalidInput
from portal.files.models import Blob
from portal.files.services.tree import node_trash
from portal.lifecycle import runs, services, sweeps
from portal.lifecycle.copying import container_index
from portal.lifecycle.models import Container, ContainerState, SpaceTierPolicy, Superseded
from portal.locks.services import lock_acquire
from portal.spaces.services import space_create
from portal.storage import get_store
from portal.storage.tiers import tier_store
from tests.helpers import events
from tests.lifecycle.conftest import age, blob_of, content, stored

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(api, alice):
    return api.as_user(alice)


def test_small_files_idle_past_the_policy_are_packed_into_one_container_and_still_download(client, alice, team,
                                                                                              cold):
    datas = {f"/reports/r{i}.txt": os.urandom(1000 + i) for i in range(5)}
    versions = {path: stored(alice, team, path, data) for path, data in datas.items()}
    age(*versions.values(), days=40)

    report = runs.tiering_run()

    assert (report.blobs, report.containers, report.failed) == (5, 1, 0)
    assert report.bytes == sum(map(len, datas.values()))
    container = Container.objects.get()
    assert container.state == ContainerState.LIVE and container.live_bytes == report.bytes
    assert sorted(os.path.basename(info.key) for info in tier_store("cold").iter_objects("")) == [
        os.path.basename(container.key)]
    for path, version in versions.items():
        blob = blob_of(version)
        assert (blob.tier, blob.container_id) == ("cold", container.pk)
        assert content(client, version.node_id) == (200, datas[path])
    assert len(events(Action.BLOB_TIERED)) == 1


def test_a_range_of_a_packed_file_is_that_range_of_the_file_not_of_its_container(client, alice, team, cold):
    first, second = os.urandom(3000), os.urandom(5000)
    kept, wanted = stored(alice, team, "/a.bin", first), stored(alice, team, "/b.bin", second)
    age(kept, wanted, days=40)
    runs.tiering_run()

    response = client.get(f"/api/v1/files/{wanted.node_id}/content", HTTP_RANGE="bytes=100-199")
    assert response.status_code == 206
    assert response["Content-Range"] == "bytes 100-199/5000"
    assert b"".join(response.streaming_content) == second[100:200]
    past_the_end = client.get(f"/api/v1/files/{wanted.node_id}/content", HTTP_RANGE="bytes=5000-")
    assert past_the_end.status_code == 416
    assert past_the_end["Content-Range"] == "bytes */5000"


def test_a_large_file_moves_as_an_object_of_its_own_and_its_hot_copy_goes_after_the_grace_period(
        client, alice, team, cold, settings):
    data = os.urandom(200_000)   # above PACK_MAX_BLOB
    version = stored(alice, team, "/big.bin", data)
    hot_key = version.blob.key
    age(version, days=40)

    assert runs.tiering_run().as_dict()["bytes_by_tier"] == {"cold": len(data)}

    blob = blob_of(version)
    assert blob.tier == "cold" and blob.container_id is None and tier_store("cold").size(blob.tier_key) == len(data)
    assert get_store().exists(hot_key), "the hot copy waits out the grace period"
    assert sweeps.superseded_delete() == 0
    assert sweeps.superseded_delete(now=timezone.now() + timedelta(minutes=61)) == 1
    assert not get_store().exists(hot_key)
    assert content(client, version.node_id) == (200, data)


def test_recently_read_files_stay_hot_and_old_versions_and_trash_go_sooner(client, alice, team, cold):
    current = stored(alice, team, "/doc.txt", b"v1 " * 100)
    newer = stored(alice, team, "/doc.txt", b"v2 " * 100)
    trashed = stored(alice, team, "/gone.txt", b"trash " * 100)
    node_trash(actor=alice, node_id=trashed.node_id)
    read = stored(alice, team, "/read.txt", b"read " * 100)
    age(current, newer, trashed, read, days=15)   # past the old-version (10) and trash (3) days, not current (30)
    Blob.objects.filter(pk=read.blob_id).update(last_read_at=timezone.now() - timedelta(days=2))

    runs.tiering_run()

    assert blob_of(current).tier == "cold"      # an older version
    assert blob_of(trashed).tier == "cold"      # in the trash
    assert blob_of(newer).tier == "hot"         # the current version: 15 of 30 days
    assert blob_of(read).tier == "hot"          # read two days ago


def test_a_download_marks_the_file_read_so_it_is_not_moved(client, alice, team, cold):
    version = stored(alice, team, "/busy.txt", b"busy" * 100)
    age(version, days=40)

    assert content(client, version.node_id)[0] == 200
    assert runs.tiering_run().blobs == 0
    assert blob_of(version).last_read_at > timezone.now() - timedelta(minutes=1)


def test_a_locked_file_is_never_moved(client, alice, team, cold):
    version = stored(alice, team, "/locked.txt", b"locked" * 100)
    age(version, days=400)
    lock_acquire(actor=alice, node=version.node)

    assert runs.tiering_run().blobs == 0
    assert blob_of(version).tier == "hot"


def test_a_space_policy_of_never_keeps_its_files_hot_even_when_another_space_shares_the_bytes(
        client, alice, team, cold, admin):
    keep = space_create(actor=alice, name="Keep hot")
    services.space_tier_policy_set(actor=admin, space=keep, tier="", current_days=0, old_days=0, trash_days=0)
    data = b"the same bytes in two spaces" * 50
    in_team, in_keep = stored(alice, team, "/shared.txt", data), stored(alice, keep, "/shared.txt", data)
    assert blob_of(in_team).pk == blob_of(in_keep).pk, "deduplicated into one blob"
    age(in_team, days=400)

    assert runs.tiering_run().blobs == 0
    services.space_tier_policy_clear(actor=admin, space=keep)
    assert runs.tiering_run().blobs == 1
    assert content(client, in_keep.node_id) == (200, data)


def test_only_administrators_set_a_space_policy_and_unknown_tiers_or_bad_days_are_refused(alice, team, cold, admin):
    with pytest.raises(Forbidden):
        services.space_tier_policy_set(actor=alice, space=team, tier="cold", current_days=1, old_days=1,
                                       trash_days=1)
    with pytest.raises(InvalidInput) as unknown:
        services.space_tier_policy_set(actor=admin, space=team, tier="glacier", current_days=1, old_days=1,
                                       trash_days=1)
    assert unknown.value.code == "unknown_tier"
    with pytest.raises(InvalidInput):
        services.space_tier_policy_set(actor=admin, space=team, tier="cold", current_days=-1, old_days=1,
                                       trash_days=1)
    assert not SpaceTierPolicy.objects.exists()
    services.space_tier_policy_set(actor=admin, space=team, tier="cold", current_days=5, old_days=2, trash_days=1)
    assert len(events(Action.SPACE_TIER_POLICY_CHANGED)) == 1


def test_a_run_stops_at_its_budget_and_the_next_run_goes_on_without_moving_anything_twice(alice, team, cold,
                                                                                          settings):
    settings.PACK_MAX_BLOB = 0   # every blob moves alone, so the budget counts them one by one
    versions = [stored(alice, team, f"/f{i}.txt", os.urandom(100)) for i in range(5)]
    age(*versions, days=40)

    assert runs.tiering_run(max_blobs=2).blobs == 2
    assert runs.tiering_run(max_blobs=2).blobs == 2
    assert runs.tiering_run().blobs == 1
    assert runs.tiering_run().blobs == 0
    assert Blob.objects.filter(tier="cold").count() == 5
    assert Superseded.objects.count() == 5


def test_a_container_carries_its_own_index(alice, team, cold):
    versions = [stored(alice, team, f"/i{i}.txt", os.urandom(500 * (i + 1))) for i in range(3)]
    age(*versions, days=40)
    runs.tiering_run()

    container = Container.objects.get()
    index = container_index(container.key, cold)
    assert sorted(index) == sorted((blob_of(v).sha256, blob_of(v).pack_offset, blob_of(v).size) for v in versions)


def test_deleting_packed_files_leaves_holes_that_compaction_reclaims_and_the_rest_still_download(
        client, alice, team, cold, settings):
    datas = {f"/c{i}.bin": os.urandom(2000) for i in range(6)}
    versions = {path: stored(alice, team, path, data) for path, data in datas.items()}
    age(*versions.values(), days=40)
    runs.tiering_run()
    old = Container.objects.get()
    for path in list(datas)[:4]:   # two thirds of the container's bytes become holes
        from portal.files.services.tree import trash_purge
        node_trash(actor=alice, node_id=versions[path].node_id)
        trash_purge(actor=alice, node_id=versions[path].node_id)
        del datas[path]
    from portal.files.services.maintenance import blobs_collect
    assert blobs_collect() == 4
    old.refresh_from_db()
    assert old.live_bytes == 2 * 2000 and old.live_percent == 33

    report = runs.containers_compact()

    assert (report["rewritten"], report["retired"], report["blobs"]) == (1, 1, 2)
    old.refresh_from_db()
    assert old.state == ContainerState.RETIRED
    new = Container.objects.get(state=ContainerState.LIVE)
    assert new.live_bytes == new.data_bytes == 4000
    for path, data in datas.items():
        assert blob_of(versions[path]).container_id == new.pk
        assert content(client, versions[path].node_id) == (200, data)
    assert tier_store("cold").exists(old.key)
    sweeps.superseded_delete(now=timezone.now() + timedelta(minutes=61))
    assert not tier_store("cold").exists(old.key)
    assert not Container.objects.filter(pk=old.pk).exists()


def test_a_folder_zip_holds_hot_and_cold_files_alike(client, alice, team, cold):
    cold_data, hot_data = os.urandom(3000), os.urandom(4000)
    age(stored(alice, team, "/proj/old.bin", cold_data), days=40)
    runs.tiering_run()
    stored(alice, team, "/proj/new.bin", hot_data)

    response = client.get(f"/api/v1/spaces/{team.pk}/zip/proj")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.read("old.bin") == cold_data and archive.read("new.bin") == hot_data


def test_an_outsider_cannot_read_a_cold_file(api, alice, bob, team, cold):
    version = stored(alice, team, "/secret.txt", b"secret" * 100)
    age(version, days=40)
    runs.tiering_run()

    assert api.as_user(bob).get(f"/api/v1/files/{version.node_id}/content").status_code == 404


def test_bytes_that_no_longer_match_their_hash_are_not_moved(alice, team, cold, settings):
    settings.PACK_MAX_BLOB = 0
    version = stored(alice, team, "/rot.bin", b"original" * 100)
    age(version, days=40)
    path = settings.STORAGE_ROOT / version.blob.key
    path.write_bytes(b"bit rot!" * 100)   # same size, other bytes

    report = runs.tiering_run()

    assert (report.blobs, report.failed) == (0, 1)
    assert blob_of(version).tier == "hot"
    assert list(tier_store("cold").iter_objects("")) == []


def test_a_copy_left_by_a_crash_is_removed_by_the_orphan_sweep_after_its_grace_period(alice, team, cold,
                                                                                        settings):
    orphan = f"{cold.prefix}b/00/{'0' * 32}"
    tier_store("cold").put(orphan, io.BytesIO(b"half a move"))
    version = stored(alice, team, "/kept.bin", b"kept" * 100)
    age(version, days=40)
    runs.tiering_run()

    assert sweeps.tier_orphans_delete() == 0   # younger than ORPHAN_GRACE_HOURS
    assert sweeps.tier_orphans_delete(now=timezone.now() + timedelta(hours=settings.ORPHAN_GRACE_HOURS + 1)) == 1
    assert not tier_store("cold").exists(orphan)
    assert tier_store("cold").exists(blob_of(version).tier_key)


def test_on_seaweedfs_a_cold_unpacked_file_downloads_by_a_presigned_url_of_the_cold_bucket(client, alice, team,
                                                                                             s3_tiers):
    big, small = os.urandom(300_000), os.urandom(5_000)
    big_version, small_version = stored(alice, team, "/big.bin", big), stored(alice, team, "/small.bin", small)
    age(big_version, small_version, days=40)

    assert runs.tiering_run().blobs == 2

    response = client.get(f"/api/v1/files/{big_version.node_id}/content")
    assert response.status_code == 302 and f"/{s3_tiers_bucket(s3_tiers)}/" in response["Location"]
    assert content(client, big_version.node_id) == (200, big)
    packed = client.get(f"/api/v1/files/{small_version.node_id}/content")
    assert packed.status_code == 200, "a packed file streams through the portal"
    assert b"".join(packed.streaming_content) == small


def s3_tiers_bucket(tier) -> str:
    return tier_store(tier.name).bucket


def test_a_tier_in_the_hot_bucket_with_a_storage_class_keeps_its_objects_under_its_own_prefix(
        client, alice, team, settings, policy, seaweed):
    from tests.files.support_s3 import use_s3
    from tests.lifecycle.conftest import configure_tiers

    hot = use_s3(settings, seaweed)
    configure_tiers(settings, {"infrequent": {
        "class": "warm", "backend": "s3", "endpoint": seaweed.endpoint_url, "bucket": hot.bucket,
        "region": seaweed.region, "access_key": seaweed.access_key, "secret_key": seaweed.secret_key,
        "storage_class": "STANDARD_IA"}})
    data = os.urandom(70_000)
    version = stored(alice, team, "/ia.bin", data)
    age(version, days=40)

    assert runs.tiering_run().blobs == 1

    blob = blob_of(version)
    assert blob.tier == "infrequent" and blob.container_id is None, "a warm tier does not pack by default"
    assert blob.tier_key.startswith("tiers/infrequent/")
    head = tier_store("infrequent").client.head_object(Bucket=hot.bucket, Key=blob.tier_key)
    assert head["StorageClass"] == "STANDARD_IA", "the storage class reaches the store"
    assert content(client, version.node_id) == (200, data)


def test_compaction_retires_emptied_containers_without_rewriting_a_full_small_one(alice, team, cold):
    from portal.files.services.maintenance import blobs_collect
    from portal.files.services.tree import trash_purge

    first = [stored(alice, team, f"/a{i}.bin", os.urandom(1000)) for i in range(2)]
    age(*first, days=40)
    runs.tiering_run()
    second = [stored(alice, team, f"/b{i}.bin", os.urandom(1000)) for i in range(2)]
    age(*second, days=40)
    runs.tiering_run()
    emptied, kept = Container.objects.order_by("pk")
    for version in first:
        node_trash(actor=alice, node_id=version.node_id)
        trash_purge(actor=alice, node_id=version.node_id)
    blobs_collect()

    report = runs.containers_compact()

    assert (report["retired"], report["rewritten"]) == (1, 0)
    emptied.refresh_from_db(), kept.refresh_from_db()
    assert emptied.state == ContainerState.RETIRED and kept.state == ContainerState.LIVE


def test_the_orphan_sweep_aborts_a_hot_upload_no_session_owns_after_its_grace_period(settings, seaweed):
    from portal.files.services.maintenance import orphans_sweep
    from tests.files.support_s3 import use_s3

    store = use_s3(settings, seaweed)
    abandoned = store.multipart_start("blobs/ab/" + "a" * 32)   # a large file_put killed mid-write
    assert orphans_sweep() == 0
    later = timezone.now() + timedelta(hours=settings.ORPHAN_GRACE_HOURS + 1)
    assert orphans_sweep(now=later) == 1
    assert [u for u in store.iter_unfinished_uploads("blobs/") if u[1] == abandoned] == []
