"""The upgrade to per-user key sets (migrations backups.0002-0004) on a
deployment with backups made under the one deployment-wide key set: the
database is migrated back to 0001, filled as the old release left it (real
packs in the local store, sealed with the old keys), and migrated forward."""

import io
import os
from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from rest_framework.test import APIClient

from portal.backups import crypto, tokens
from portal.backups.keys import keys_of, wrap
from portal.backups.models import BackupKeySet, Chunk, Device, Pack, Snapshot, pack_key
from portal.backups.services.gc import gc_collect
from portal.backups.services.verify import backup_verify
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db(transaction=True)

OLD = [("backups", "0001_initial")]
REPORT = b"alice's report\n" * 300
SHARED = b"the company handbook, on every laptop\n" * 300
NOTES = b"bob's own notes\n" * 300


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


class OldDeployment:
    """Backups as the release before per-user keys wrote them, through its models."""

    def __init__(self, apps, store):
        self.apps, self.store = apps, store
        self.id_key, self.data_key = os.urandom(32), os.urandom(32)
        apps.get_model("backups", "BackupKeys").objects.create(
            pk=1, id_key_wrapped=wrap(self.id_key, b"id"), data_key_wrapped=wrap(self.data_key, b"data"))
        self.tokens = {}

    def device(self, user):
        plaintext, selector, verifier = tokens.generate(tokens.DEVICE)
        row = self.apps.get_model("backups", "Device").objects.create(
            user_id=user.pk, name=f"{user.username}-laptop", selector=selector, verifier_hash=verifier)
        self.tokens[row.pk] = plaintext
        return row

    def cid(self, plaintext: bytes) -> str:
        return crypto.chunk_id(self.id_key, plaintext)

    def backup(self, device, files: dict[str, bytes]) -> int:
        """One snapshot of ``files``; chunks the (deployment-wide) index knows are not uploaded again."""
        Chunk = self.apps.get_model("backups", "Chunk")
        entries, blobs = [], []
        for name, data in files.items():
            cid = self.cid(data)
            entries.append({"name": name, "type": "file", "mode": 0o644, "mtime_ns": 1, "size": len(data),
                            "chunks": [cid]})
            blobs.append((cid, data, "data"))
        tree = crypto.tree_encode(entries)
        root = self.cid(tree)
        blobs.append((root, tree, "tree"))
        fresh = [b for b in blobs if not Chunk.objects.filter(id=b[0]).exists()]
        pack = self.apps.get_model("backups", "Pack").objects.create(
            pack_id=os.urandom(16).hex(), device=device, size=1, indexed_at=timezone.now())
        body = b""
        for cid, data, kind in fresh:
            blob = crypto.seal_blob(self.data_key, cid, data)
            Chunk.objects.create(id=cid, pack=pack, offset=len(body), length=len(blob), raw_length=len(data),
                                 kind=kind)
            body += blob
        pack.size = len(body)
        pack.save()
        self.store.put(pack_key(pack.pack_id), io.BytesIO(body))
        now = timezone.now()
        return self.apps.get_model("backups", "Snapshot").objects.create(
            device=device, root=root, started_at=now, finished_at=now, paths=["/home"]).pk


def _device_client(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def _content(client, device_id, snapshot_id, path):
    response = client.get(f"/api/v1/devices/{device_id}/snapshots/{snapshot_id}/content/{path}")
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content)


def test_an_upgraded_deployment_keeps_old_snapshots_restorable_and_scopes_them_per_user(
        alice, bob, admin, signed_in, store_root):
    old = OldDeployment(_migrate(OLD), store_root)
    alices, bobs = old.device(alice), old.device(bob)
    alice_snapshot = old.backup(alices, {"report.txt": REPORT, "handbook.txt": SHARED})
    bob_snapshot = old.backup(bobs, {"handbook.txt": SHARED, "notes.txt": NOTES})  # handbook: deduped

    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    legacy = BackupKeySet.objects.get(deployment_wide=True)
    assert legacy.user is None and keys_of(legacy).id_key == old.id_key and keys_of(legacy).data_key == old.data_key
    assert set(Pack.objects.values_list("key_set", flat=True)) == {legacy.pk}
    assert set(Snapshot.objects.values_list("key_set", flat=True)) == {legacy.pk}
    assert set(Device.objects.values_list("key_set", flat=True)) == {legacy.pk}
    assert Chunk.objects.get(id=old.cid(REPORT)).owner == alice
    assert Chunk.objects.get(id=old.cid(SHARED)).owner == alice  # uploaded by alice first
    assert Chunk.objects.get(id=old.cid(NOTES)).owner == bob
    assert not Chunk.objects.filter(owner__isnull=True).exists()

    # The portal reads old snapshots with the old keys, for their owner and for an administrator,
    # including a chunk the old cross-user dedup left in another user's pack.
    assert _content(signed_in(alice), alices.pk, alice_snapshot, "report.txt") == REPORT
    assert _content(signed_in(admin), alices.pk, alice_snapshot, "report.txt") == REPORT
    assert _content(signed_in(bob), bobs.pk, bob_snapshot, "handbook.txt") == SHARED
    assert _content(signed_in(bob), bobs.pk, bob_snapshot, "notes.txt") == NOTES
    assert backup_verify(sample=10)["ok"]
    Pack.objects.update(created_at=timezone.now() - timedelta(days=30), claimed_at=None)
    report = gc_collect()
    assert report["ok"] and report["swept"] == 0 and report["repacked"] == 0

    # What a device may ask stops at its user, old chunks included.
    bob_device = _device_client(old.tokens[bobs.pk])
    ids = [old.cid(REPORT), old.cid(SHARED), old.cid(NOTES)]
    assert bob_device.post("/api/v1/backup/chunks/known", {"ids": ids}, format="json").json() == {
        "known": [old.cid(NOTES)]}
    located = bob_device.post("/api/v1/backup/chunks/locate", {"ids": ids}, format="json").json()
    assert set(located["chunks"]) == {old.cid(NOTES)} and located["chunks"][old.cid(NOTES)]["key_set"] == legacy.key_id
    alice_device = _device_client(old.tokens[alices.pk])
    located = alice_device.post("/api/v1/backup/chunks/locate", {"ids": ids[:2]}, format="json").json()
    assert set(located["chunks"]) == set(ids[:2]) and located["missing"] == []
    listed = alice_device.get("/api/v1/backup/snapshots").json()["results"]
    assert [s["key_set"] for s in listed] == [legacy.key_id]

    # New backups use alice's own key set: the device is told, and old-key blobs no longer register.
    current = alice_device.get("/api/v1/backup/device").json()["key_set"]
    assert current != legacy.key_id and BackupKeySet.objects.get(key_id=current).user == alice
    fresh = alice_device.post("/api/v1/backup/device/keys").json()
    assert fresh["key_set"] == current and fresh["replaces"] == legacy.key_id
    data = b"written after the upgrade"
    cid = old.cid(data)
    blob = crypto.seal_blob(old.data_key, cid, data)
    created = alice_device.post("/api/v1/backup/packs", {"size": len(blob)}, format="json").json()
    from tests.backups.conftest import put_url

    assert put_url(alice_device, created["url"], blob).status_code == 200
    entry = [{"id": cid, "offset": 0, "length": len(blob), "raw_length": len(data), "kind": "data"}]
    assert_error(alice_device.post(f"/api/v1/backup/packs/{created['pack_id']}/index", {"chunks": entry},
                                   format="json"), 400, "bad_chunk")


def test_an_empty_deployment_upgrades_without_a_key_set():
    _migrate(OLD)
    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    assert not BackupKeySet.objects.exists()
