import pytest

from portal.backups.models import Device as DeviceRow
from tests.helpers import assert_error, last_event

pytestmark = pytest.mark.django_db


def test_a_user_lists_their_own_devices_with_their_state(enroll, signed_in, alice, bob, store_root):
    mine = enroll(alice)
    enroll(bob)
    mine.backup({"a.txt": b"aaa"})
    listed = signed_in(alice).get("/api/v1/devices").json()
    assert listed["count"] == 1
    shown = listed["results"][0]
    assert shown["id"] == mine.id and shown["state"] == "active" and shown["snapshots"] == 1
    assert shown["stored_bytes"] > 0 and shown["last_backup_at"] and shown["owner"] == "alice"
    assert signed_in(alice).get("/api/v1/devices?all=1").json()["count"] == 1  # not an admin: still only hers


def test_an_administrator_lists_every_device(enroll, signed_in, alice, bob, admin):
    enroll(alice)
    enroll(bob)
    assert signed_in(admin).get("/api/v1/devices?all=1").json()["count"] == 2
    assert signed_in(admin).get("/api/v1/devices").json()["count"] == 0


def test_a_device_is_read_renamed_and_revoked_by_its_owner(enroll, signed_in, alice):
    device = enroll(alice)
    client = signed_in(alice)
    assert client.get(f"/api/v1/devices/{device.id}").json()["name"] == "laptop"
    renamed = client.patch(f"/api/v1/devices/{device.id}", {"name": "Old laptop", "excludes": ["*.tmp"]},
                           format="json")
    assert renamed.status_code == 200 and renamed.json()["name"] == "Old laptop"
    assert last_event("device.renamed").details == {"from": "laptop", "to": "Old laptop"}
    assert device.get("/backup/device").json()["excludes"] == ["*.tmp"]
    revoked = client.delete(f"/api/v1/devices/{device.id}")
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    assert last_event("device.revoked").actor == alice
    assert client.delete(f"/api/v1/devices/{device.id}").status_code == 200  # twice is harmless
    assert len([e for e in [last_event("device.revoked")]]) == 1
    assert_error(device.get("/backup/device"), 401, "device_revoked")


def test_an_outsider_cannot_see_rename_or_revoke_a_device(enroll, signed_in, alice, bob):
    device = enroll(alice)
    client = signed_in(bob)
    assert_error(client.get(f"/api/v1/devices/{device.id}"), 404, "not_found")
    assert_error(client.patch(f"/api/v1/devices/{device.id}", {"name": "mine"}, format="json"), 404, "not_found")
    assert_error(client.delete(f"/api/v1/devices/{device.id}"), 404, "not_found")
    assert DeviceRow.objects.get(pk=device.id).revoked_at is None


def test_renaming_with_bad_input_is_refused(enroll, signed_in, alice):
    device = enroll(alice)
    client = signed_in(alice)
    assert_error(client.patch(f"/api/v1/devices/{device.id}", {"name": ""}, format="json"), 400, "invalid_input")
    assert_error(client.patch(f"/api/v1/devices/{device.id}", {"owner": "bob"}, format="json"), 400,
                 "invalid_input")


def test_snapshots_are_listed_newest_first_for_the_owner(enroll, signed_in, alice, store_root):
    from datetime import datetime, timezone

    device = enroll(alice)
    older = device.backup({"a": b"1"}, started_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    newer = device.backup({"a": b"2"}, started_at=datetime(2026, 2, 1, tzinfo=timezone.utc))
    listed = signed_in(alice).get(f"/api/v1/devices/{device.id}/snapshots").json()["results"]
    assert [s["id"] for s in listed] == [newer["id"], older["id"]]
    assert set(listed[0]) >= {"id", "started_at", "finished_at", "paths", "hostname", "files", "dirs", "bytes",
                              "added_bytes", "root"}


def test_snapshot_listing_of_an_unknown_device_is_not_found(signed_in, alice):
    assert_error(signed_in(alice).get("/api/v1/devices/999999/snapshots"), 404, "not_found")
