"""The full check of a pack's blobs runs after its index call (the
``backups.check_pack`` task), not in it. What must hold: only the device that
wrote a pack relies on it before it is checked; every other device of the
user is told its chunks are known, or keeps a duplicate pointing at it, only
once the check passed (run on that device's request if the task has not
run yet); a pack that fails loses its index rows, and its device is told."""

from __future__ import annotations

import os

import pytest

from portal.backups.models import Chunk, Device as DeviceRow, Pack
from portal.backups.services.packs import pack_check
from portal.backups.tasks import check_pack
from tests.backups.conftest import put_url, run_pack_checks
from tests.helpers import assert_error, last_event

pytestmark = pytest.mark.django_db


def _forged_pack(device, small_plaintext: bytes, claimed_id: str, size: int = 50_000) -> tuple[str, list[dict]]:
    """A pack of one good small blob and one blob of random bytes registered as ``claimed_id``:
    the index call's spot check (the smallest blob) passes, the full check cannot."""
    good = device.blob(small_plaintext)
    junk = os.urandom(size)
    body = good[1] + junk
    entries = [{"id": good[0], "offset": 0, "length": len(good[1]), "raw_length": len(small_plaintext),
                "kind": "data"},
               {"id": claimed_id, "offset": len(good[1]), "length": size, "raw_length": size - 29, "kind": "data"}]
    created = device.post("/backup/packs", {"size": len(body)}).json()
    assert put_url(device.client, created["url"], body, created["headers"]).status_code == 200
    indexed = device.post(f"/backup/packs/{created['pack_id']}/index", {"chunks": entries})
    assert indexed.status_code == 201, indexed.content
    return created["pack_id"], entries


def test_the_check_task_marks_a_good_pack_checked(enroll, alice, store_root):
    device = enroll(alice)
    pack_id = device.upload_pack([device.blob(b"one"), device.blob(os.urandom(10_000))])
    pack = Pack.objects.get(pack_id=pack_id)
    assert pack.indexed_at is not None and pack.checked_at is None
    assert check_pack(pack.pk) is True
    assert Pack.objects.get(pk=pack.pk).checked_at is not None
    assert check_pack(pack.pk) is True  # safe to run twice
    assert run_pack_checks() == {"passed": 0, "failed": 0}


def test_a_pack_that_fails_its_check_loses_its_rows_and_its_device_is_told(enroll, alice, store_root):
    device = enroll(alice)
    claimed = device.blob(b"what the junk claims to be")[0]
    pack_id, _ = _forged_pack(device, b"fine", claimed)
    # Its writer relies on it before the check: its own problem, not anyone else's.
    assert device.post("/backup/chunks/known", {"ids": [claimed]}).json() == {"known": [claimed]}
    assert run_pack_checks() == {"passed": 0, "failed": 1}
    assert not Chunk.objects.filter(pack__pack_id=pack_id).exists()
    assert Pack.objects.get(pack_id=pack_id).checked_at is not None
    row = DeviceRow.objects.get(pk=device.id)
    assert pack_id in row.last_error and row.last_error_at is not None
    event = last_event("backup.verified")
    assert event.outcome == "failure" and event.details["pack"] == pack_id and event.details["bad_chunk"] == claimed
    assert device.post("/backup/chunks/known", {"ids": [claimed]}).json() == {"known": []}


def test_another_device_is_told_a_chunk_is_known_only_once_its_pack_passed(enroll, alice, store_root):
    laptop, desktop = enroll(alice), enroll(alice, name="desktop")
    good = laptop.blob(os.urandom(5000))
    pack_id = laptop.upload_pack([good])
    assert Pack.objects.get(pack_id=pack_id).checked_at is None
    assert desktop.post("/backup/chunks/known", {"ids": [good[0]]}).json() == {"known": [good[0]]}
    assert Pack.objects.get(pack_id=pack_id).checked_at is not None  # checked on the desktop's request


def test_another_device_never_dedups_against_a_forged_pack(enroll, alice, store_root):
    laptop, desktop = enroll(alice), enroll(alice, name="desktop")
    genuine = desktop.blob(b"the desktop's real chunk" * 100)
    pack_id, _ = _forged_pack(laptop, b"fine", genuine[0])
    assert desktop.post("/backup/chunks/known", {"ids": [genuine[0]]}).json() == {"known": []}
    assert not Chunk.objects.filter(pack__pack_id=pack_id).exists()
    desktop.upload_pack([genuine])
    assert Chunk.objects.get(id=genuine[0]).pack.device_id == desktop.id


def test_a_duplicate_in_another_devices_unchecked_pack_is_checked_before_it_is_kept(enroll, alice, store_root):
    laptop, desktop = enroll(alice), enroll(alice, name="desktop")
    genuine = desktop.blob(b"uploaded by both at once" * 100)
    _forged_pack(laptop, b"fine", genuine[0])  # registered first, not checked yet
    mine = desktop.upload_pack([genuine])
    # The laptop's pack failed on the desktop's index call: the desktop's own copy is the one indexed.
    assert Chunk.objects.get(id=genuine[0]).pack.pack_id == mine


def test_indexing_more_blobs_later_makes_the_pack_unchecked_again(enroll, alice, store_root):
    laptop, desktop = enroll(alice), enroll(alice, name="desktop")
    claimed = desktop.blob(b"the desktop's data" * 100)[0]
    pack_id, entries = _forged_pack(laptop, b"fine", claimed)
    path = f"/backup/packs/{pack_id}/index"
    Chunk.objects.filter(id=claimed).delete()
    pack = Pack.objects.get(pack_id=pack_id)
    assert pack_check(pack_pk=pack.pk) is True  # only the good blob is registered now: it passes
    assert laptop.post(path, {"chunks": entries}).json() == {"registered": 2, "duplicates": 0}
    assert Pack.objects.get(pk=pack.pk).checked_at is None
    assert desktop.post("/backup/chunks/known", {"ids": [claimed]}).json() == {"known": []}


def test_a_snapshot_on_another_devices_forged_root_is_refused(enroll, alice, store_root):
    laptop, desktop = enroll(alice), enroll(alice, name="desktop")
    claimed = desktop.blob(b'{"entries":[]}', kind="tree")[0]
    _forged_pack(laptop, b"fine", claimed)
    Chunk.objects.filter(id=claimed).update(kind="tree")
    assert_error(desktop.post("/backup/snapshots", {
        "root": claimed, "started_at": "2026-01-01T00:00:00Z", "finished_at": "2026-01-01T00:01:00Z",
        "paths": ["/home/alice"]}), 409, "missing_chunks")
