"""Garbage collection and verification on real packs in the local store."""

import os
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.backups.keys import user_key_set
from portal.backups.models import Chunk, Pack, Snapshot
from portal.backups.services.gc import gc_collect
from portal.backups.services.verify import backup_verify
from portal.backups.tasks import collect_garbage, verify_backups
from tests.helpers import last_event

pytestmark = pytest.mark.django_db

LATER = timezone.now() + timedelta(hours=25)


def _age(*pack_ids):
    """Make packs look older than the grace period (and unclaimed)."""
    past = timezone.now() - timedelta(hours=30)
    Pack.objects.filter(pack_id__in=pack_ids).update(created_at=past, claimed_at=None)


def _restore(signed_in, user, device, snapshot, path):
    response = signed_in(user).get(f"/api/v1/devices/{device.id}/snapshots/{snapshot['id']}/content/{path}")
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content)


def test_gc_removes_a_pack_nothing_references_only_after_the_grace_period(enroll, alice, store_root):
    device = enroll(alice)
    snapshot = device.backup({"a.txt": b"a" * 1000})
    pack = Pack.objects.get()
    Snapshot.objects.filter(pk=snapshot["id"]).delete()
    assert gc_collect()["swept"] == 0  # too young
    _age(pack.pack_id)
    report = gc_collect()
    assert report["swept"] == 1 and not Pack.objects.exists() and not Chunk.objects.exists()
    assert not store_root.exists(pack.key)
    assert last_event("backup.gc").details["swept"] == 1


def test_gc_leaves_a_pack_a_device_was_just_told_about(enroll, alice, store_root):
    device = enroll(alice)
    blob = device.blob(b"orphan for now")
    pack_id = device.upload_pack([blob])
    _age(pack_id)
    device.post("/backup/chunks/known", {"ids": [blob[0]]})  # the device plans to use it
    assert gc_collect()["swept"] == 0 and Pack.objects.filter(pack_id=pack_id).exists()


def test_gc_keeps_chunks_another_devices_snapshot_still_uses(enroll, signed_in, alice, store_root):
    laptop, desktop = enroll(alice), enroll(alice, name="desktop")
    mine = laptop.backup({"shared.txt": b"shared across devices"})
    theirs = desktop.backup({"shared.txt": b"shared across devices"})  # dedup: nothing new uploaded
    assert Pack.objects.count() == 1
    Snapshot.objects.filter(pk=mine["id"]).delete()
    _age(*Pack.objects.values_list("pack_id", flat=True))
    assert gc_collect()["swept"] == 0
    assert _restore(signed_in, alice, desktop, theirs, "shared.txt") == b"shared across devices"


def test_gc_repacks_a_mostly_unused_pack_without_breaking_restores(enroll, signed_in, alice, store_root):
    device = enroll(alice)
    keep = b"keep me" * 100
    first = device.backup({"keep.txt": keep, "drop.bin": os.urandom(100_000)})
    second = device.backup({"keep.txt": keep})  # its tree is new; keep.txt's chunk is known
    Snapshot.objects.filter(pk=first["id"]).delete()
    old = Pack.objects.order_by("id").first()
    _age(*Pack.objects.values_list("pack_id", flat=True))
    report = gc_collect()
    assert report["repacked"] == 1 and report["freed_bytes"] > 90_000
    assert not Pack.objects.filter(pk=old.pk).exists() and not store_root.exists(old.key)
    assert _restore(signed_in, alice, device, second, "keep.txt") == keep
    assert backup_verify()["ok"]


def test_gc_removes_unindexed_pack_objects_after_the_grace_period(enroll, alice, store_root):
    import io

    device = enroll(alice)
    announced = device.post("/backup/packs", {"size": 100}).json()["pack_id"]
    store_root.put("backups/packs/ab/" + "ab" * 16, io.BytesIO(b"stray"))
    assert gc_collect()["unindexed_removed"] == 0
    Pack.objects.filter(pack_id=announced).update(created_at=timezone.now() - timedelta(hours=30))
    assert gc_collect(now=LATER)["unindexed_removed"] == 2
    assert not Pack.objects.exists() and not list(store_root.iter_objects("backups/"))


def test_gc_deletes_nothing_when_a_tree_cannot_be_read(enroll, alice, store_root):
    device = enroll(alice)
    device.backup({"a.txt": b"a"})
    Chunk.objects.filter(kind="tree").delete()
    removed_row = Pack.objects.create(pack_id="f" * 32, size=10, indexed_at=timezone.now(),
                                      key_set=user_key_set(alice))
    _age(removed_row.pack_id)
    report = collect_garbage()
    assert report["ok"] is False and Pack.objects.filter(pk=removed_row.pk).exists()


def test_verify_passes_on_intact_backups(enroll, alice, store_root):
    device = enroll(alice)
    device.backup({"a.txt": b"a" * 5000, "d": {"b.txt": b"b"}})
    report = backup_verify(sample=10)
    assert report["ok"] and report["snapshots"] == 1 and report["sampled"] == 4  # two files, two trees
    assert last_event("backup.verified").outcome == "success"


def test_verify_finds_a_missing_pack(enroll, signed_in, alice, store_root):
    device = enroll(alice)
    snapshot = device.backup({"a.txt": b"a" * 5000})
    extra = device.blob(b"in a second pack")
    pack_id = device.upload_pack([extra])
    # a second snapshot whose file lives in the second pack
    blobs = []
    root = device.build_tree({"x.txt": b"in a second pack"}, blobs)
    device.upload_pack([b for b in blobs if b[2] == "tree"])
    second = device.commit(root)
    store_root.delete(Pack.objects.get(pack_id=pack_id).key)
    report = verify_backups()
    assert not report["ok"]
    assert report["bad_packs"] == {pack_id: "missing from the object store"}
    assert [d["snapshot"] for d in report["damaged"]] == [second["id"]]
    assert last_event("backup.verified").outcome == "failure"
    shown = signed_in(alice).get(f"/api/v1/devices/{device.id}").json()
    assert f"snapshot {second['id']} is damaged" in shown["last_error"]
    assert snapshot["id"] not in [d["snapshot"] for d in report["damaged"]]
    from tests.helpers import assert_error

    assert_error(signed_in(alice).get(f"/api/v1/devices/{device.id}/snapshots/{second['id']}/content/x.txt"),
                 409, "snapshot_damaged")


def test_verify_finds_a_corrupt_blob(enroll, alice, store_root):
    device = enroll(alice)
    device.backup({"a.txt": b"a" * 5000})
    chunk = Chunk.objects.get(kind="data")
    path = store_root._path(chunk.pack.key)
    data = bytearray(path.read_bytes())
    data[chunk.offset + 20] ^= 0xFF
    path.write_bytes(bytes(data))
    report = backup_verify(sample=100)
    assert not report["ok"] and report["bad_blobs"][0]["chunk"] == chunk.id


def test_gc_skips_a_half_empty_pack_whose_object_is_gone_and_goes_on(enroll, alice, store_root):
    device = enroll(alice)
    first = device.backup({"keep.txt": b"keep", "drop.bin": os.urandom(50_000)})
    device.backup({"keep.txt": b"keep"})
    Snapshot.objects.filter(pk=first["id"]).delete()
    old = Pack.objects.order_by("id").first()
    store_root.delete(old.key)
    _age(*Pack.objects.values_list("pack_id", flat=True))
    report = gc_collect()
    assert report["errors"][0]["pack_id"] == old.pack_id and Pack.objects.filter(pk=old.pk).exists()
