"""Backups are private to their user (issue 12, section 1): per-user key sets,
dedup and every chunk question scoped to the caller's user, administrator
restore through the portal. Real devices enrolled through the API, real
packs in the local store."""

import base64

import pytest
from cryptography.exceptions import InvalidTag

from portal.backups import crypto
from portal.backups.keys import keys_of, unwrap, user_key_set
from portal.backups.models import BackupKeySet, Chunk, Device as DeviceRow, Pack, Snapshot
from tests.backups.conftest import put_url
from tests.helpers import assert_error, last_event

pytestmark = pytest.mark.django_db

SECRET = b"Q3 board minutes: we are acquiring Initech for $40M.\n" * 50


def _restore(client, device_id, snapshot_id, path):
    response = client.get(f"/api/v1/devices/{device_id}/snapshots/{snapshot_id}/content/{path}")
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content)


def test_a_colleague_cannot_confirm_or_fetch_a_file_by_its_chunk_id(enroll, alice, bob, store_root):
    alices = enroll(alice)
    alices.backup({"minutes.txt": SECRET})
    attacker = enroll(bob)
    # The chunk id of the guessed content, with the keys bob's device received ...
    guessed = crypto.chunk_id(attacker.keys.id_key, SECRET)
    # ... and, the worst case, the exact id alice's index holds.
    actual = crypto.chunk_id(alices.keys.id_key, SECRET)
    assert Chunk.objects.filter(id=actual, owner=alice).exists()
    for cid in (guessed, actual):
        known = attacker.post("/backup/chunks/known", {"ids": [cid]})
        assert known.status_code == 200 and known.json() == {"known": []}
        located = attacker.post("/backup/chunks/locate", {"ids": [cid]})
        assert located.status_code == 200 and located.json() == {"chunks": {}, "missing": [cid]}
    # Alice's own device still gets both answers for the same id.
    assert alices.post("/backup/chunks/known", {"ids": [actual]}).json() == {"known": [actual]}
    assert actual in alices.post("/backup/chunks/locate", {"ids": [actual]}).json()["chunks"]


def test_a_colleague_cannot_probe_by_registering_or_committing_another_users_chunk(enroll, alice, bob, store_root):
    alices = enroll(alice)
    snapshot = alices.backup({"minutes.txt": SECRET})
    attacker = enroll(bob)
    # A blob sealed exactly as alice's (as if bob had her keys) does not register: bob's pack is checked
    # with bob's key set, so the index never says "duplicate" for alice's id.
    cid = crypto.chunk_id(alices.keys.id_key, SECRET)
    forged = crypto.seal_blob(alices.keys.data_key, cid, SECRET)
    created = attacker.post("/backup/packs", {"size": len(forged)}).json()
    assert put_url(attacker.client, created["url"], forged).status_code == 200
    entry = [{"id": cid, "offset": 0, "length": len(forged), "raw_length": len(SECRET), "kind": "data"}]
    assert_error(attacker.post(f"/backup/packs/{created['pack_id']}/index", {"chunks": entry}), 400, "bad_chunk")
    # Committing a snapshot on alice's root tree: as if it did not exist.
    response = attacker.post("/backup/snapshots", {
        "root": snapshot["root"], "started_at": "2026-01-01T00:00:00Z", "finished_at": "2026-01-01T00:01:00Z",
        "paths": ["/home/bob"]})
    assert_error(response, 409, "missing_chunks")
    assert Chunk.objects.get(id=cid).owner == alice


def test_each_user_gets_an_own_key_set_wrapped_under_the_master_key(enroll, alice, bob, settings):
    laptop, desktop, bobs = enroll(alice), enroll(alice, name="desktop"), enroll(bob)
    assert laptop.keys == desktop.keys
    assert bobs.keys.id_key != laptop.keys.id_key and bobs.keys.data_key != laptop.keys.data_key
    row = BackupKeySet.objects.get(user=alice)
    assert row.key_id == laptop.enrolled["key_set"] and not row.deployment_wide
    assert base64.b64encode(laptop.keys.id_key).decode() not in row.id_key_wrapped
    assert unwrap(row.id_key_wrapped, b"id") == laptop.keys.id_key
    assert unwrap(row.data_key_wrapped, b"data") == laptop.keys.data_key
    assert set(DeviceRow.objects.values_list("key_set__user__username", flat=True)) == {"alice", "bob"}
    settings.MASTER_KEY = "another deployment's master key"
    with pytest.raises(InvalidTag):
        keys_of(row)


def test_two_devices_of_one_user_store_shared_data_once_and_two_users_twice(enroll, alice, bob, store_root):
    data = {"big.bin": bytes(range(256)) * 1024}
    laptop, desktop, bobs = enroll(alice), enroll(alice, name="desktop"), enroll(bob)
    laptop.backup(data)
    after_one = Pack.objects.count()
    desktop.backup(data)
    assert Pack.objects.count() == after_one  # the same user's second device uploads nothing
    bobs.backup(data)
    assert Pack.objects.filter(owner=bob).count() == after_one  # another user stores his own copy
    assert not Chunk.objects.filter(owner=bob).filter(id__in=Chunk.objects.filter(owner=alice).values("id")).exists()


def test_an_administrator_restores_an_employees_snapshot_through_the_portal(enroll, signed_in, alice, admin,
                                                                            store_root):
    device = enroll(alice)
    snapshot = device.backup({"minutes.txt": SECRET})
    assert Snapshot.objects.get(pk=snapshot["id"]).key_set.user == alice
    assert _restore(signed_in(admin), device.id, snapshot["id"], "minutes.txt") == SECRET
    assert last_event("backup.restored").actor_id == admin.pk


def test_a_device_learns_its_users_key_set_and_rekeys_once(enroll, alice, store_root):
    device = enroll(alice)
    legacy = BackupKeySet.objects.create(key_id="0" * 32, deployment_wide=True,
                                         id_key_wrapped=user_key_set(alice).id_key_wrapped,
                                         data_key_wrapped=user_key_set(alice).data_key_wrapped)
    DeviceRow.objects.filter(pk=device.id).update(key_set=legacy)  # as the migration leaves an old device
    assert device.get("/backup/device").json()["key_set"] == device.enrolled["key_set"]
    answer = device.post("/backup/device/keys").json()
    assert answer == {"key_set": device.enrolled["key_set"], "keys": device.enrolled["keys"], "replaces": "0" * 32}
    assert last_event("device.rekeyed").details == {"key_set": device.enrolled["key_set"], "replaces": "0" * 32}
    assert device.post("/backup/device/keys").json()["replaces"] is None  # already current: nothing changes
    assert DeviceRow.objects.get(pk=device.id).key_set.user == alice


def test_rekeying_needs_a_device_token(client):
    assert client.post("/api/v1/backup/device/keys").status_code == 401
