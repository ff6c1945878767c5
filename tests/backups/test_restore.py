"""Browsing a snapshot and downloading from it, decrypted by the portal."""

import io
import os
import zipfile

import pytest

from tests.helpers import assert_error, last_event

pytestmark = pytest.mark.django_db

BIG = os.urandom(300_000)  # several chunks
LAYOUT = {"notes.txt": b"hello notes", "empty.txt": b"",
          "docs": {"big.bin": BIG, "deeper": {"x.md": b"# x\n" * 5000}}}


@pytest.fixture
def backed_up(enroll, alice, store_root):
    device = enroll(alice)
    return device, device.backup(LAYOUT)


def _base(device, snapshot):
    return f"/api/v1/devices/{device.id}/snapshots/{snapshot['id']}"


def test_the_owner_browses_a_snapshots_folders(backed_up, signed_in, alice):
    device, snapshot = backed_up
    root = signed_in(alice).get(_base(device, snapshot) + "/tree").json()
    assert root["path"] == ""
    assert [(e["name"], e["type"], e["size"]) for e in root["entries"]] == [
        ("docs", "dir", None), ("empty.txt", "file", 0), ("notes.txt", "file", 11)]
    assert root["entries"][2]["mtime"].startswith("2023-11-14T22:13:20.123456")
    docs = signed_in(alice).get(_base(device, snapshot) + "/tree/docs").json()
    assert [e["name"] for e in docs["entries"]] == ["big.bin", "deeper"]


def test_browsing_a_missing_path_or_a_file_is_refused(backed_up, signed_in, alice):
    device, snapshot = backed_up
    client = signed_in(alice)
    assert_error(client.get(_base(device, snapshot) + "/tree/nope"), 404, "not_found")
    assert_error(client.get(_base(device, snapshot) + "/tree/notes.txt"), 400, "not_a_folder")
    assert_error(client.get(_base(device, snapshot) + "/tree/notes.txt/below"), 404, "not_found")
    assert_error(client.get(_base(device, snapshot) + "/tree/docs/../docs"), 400, "invalid_path")


def test_a_file_downloads_byte_identical_and_is_audited(backed_up, signed_in, alice):
    device, snapshot = backed_up
    response = signed_in(alice).get(_base(device, snapshot) + "/content/docs/big.bin")
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(BIG))
    assert response["Content-Disposition"].startswith("attachment;")
    assert b"".join(response.streaming_content) == BIG
    event = last_event("backup.restored")
    assert event.actor == alice and event.details["path"] == "docs/big.bin" and event.details["kind"] == "file"


def test_an_empty_file_downloads_empty(backed_up, signed_in, alice):
    device, snapshot = backed_up
    response = signed_in(alice).get(_base(device, snapshot) + "/content/empty.txt")
    assert response.status_code == 200 and b"".join(response.streaming_content) == b""


def test_content_of_a_folder_or_missing_file_is_refused(backed_up, signed_in, alice):
    device, snapshot = backed_up
    assert_error(signed_in(alice).get(_base(device, snapshot) + "/content/docs"), 400, "not_a_file")
    assert_error(signed_in(alice).get(_base(device, snapshot) + "/content/docs/none"), 404, "not_found")


def test_a_folder_downloads_as_a_zip_with_identical_files(backed_up, signed_in, alice):
    device, snapshot = backed_up
    response = signed_in(alice).get(_base(device, snapshot) + "/zip/docs")
    assert response.status_code == 200
    data = b"".join(response.streaming_content)
    assert len(data) == int(response["Content-Length"])
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.read("big.bin") == BIG
    assert archive.read("deeper/x.md") == b"# x\n" * 5000
    assert last_event("backup.restored").details["kind"] == "zip"


def test_the_whole_snapshot_downloads_as_a_zip(backed_up, signed_in, alice):
    device, snapshot = backed_up
    response = signed_in(alice).get(_base(device, snapshot) + "/zip")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.read("notes.txt") == b"hello notes" and archive.read("docs/big.bin") == BIG
    assert archive.read("empty.txt") == b""
    assert response["Content-Disposition"].startswith(f'attachment; filename="snapshot-{snapshot["id"]}.zip"')


def test_zip_of_a_file_is_refused(backed_up, signed_in, alice):
    device, snapshot = backed_up
    assert_error(signed_in(alice).get(_base(device, snapshot) + "/zip/notes.txt"), 400, "not_a_folder")


def test_an_administrator_restores_for_an_employee(backed_up, signed_in, admin):
    device, snapshot = backed_up
    response = signed_in(admin).get(_base(device, snapshot) + "/content/notes.txt")
    assert b"".join(response.streaming_content) == b"hello notes"
    assert last_event("backup.restored").details["owner"] == "alice"


def test_outsiders_see_no_device_and_no_snapshot(backed_up, signed_in, bob):
    device, snapshot = backed_up
    client = signed_in(bob)
    for suffix in ("/tree", "/tree/docs", "/content/notes.txt", "/zip", "/zip/docs"):
        assert_error(client.get(_base(device, snapshot) + suffix), 404, "not_found")
    assert_error(client.get(f"/api/v1/devices/{device.id}/snapshots"), 404, "not_found")


def test_a_snapshot_of_another_device_of_the_same_user_is_not_found_under_this_one(backed_up, enroll, signed_in,
                                                                                     alice):
    device, snapshot = backed_up
    other = enroll(alice, name="desktop")
    assert_error(signed_in(alice).get(f"/api/v1/devices/{other.id}/snapshots/{snapshot['id']}/tree"), 404,
                 "not_found")


def test_a_device_lists_only_its_own_snapshots(backed_up, enroll, bob):
    _, snapshot = backed_up
    other = enroll(bob)
    assert other.get("/backup/snapshots").json()["results"] == []


def test_a_device_backs_up_again_without_uploading_known_chunks(backed_up):
    device, first = backed_up
    second = device.backup({**LAYOUT, "new.txt": b"new"})
    assert second["root"] != first["root"]
    from portal.backups.models import Pack

    assert Pack.objects.count() == 2 and Pack.objects.order_by("id").last().size < 1000


def test_zip_members_come_depth_first_in_name_order(backed_up, signed_in, alice):
    device, snapshot = backed_up
    response = signed_in(alice).get(_base(device, snapshot) + "/zip")
    names = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))).namelist()
    assert names == ["docs/", "docs/big.bin", "docs/deeper/", "docs/deeper/x.md", "empty.txt", "notes.txt"]
