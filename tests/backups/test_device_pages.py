"""The Devices pages tell the truth: browsing a snapshot starts in the folder
it backed up, with real modification times (never 1970), and a device is
"backing up" only while a run is under way."""

from __future__ import annotations

import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from portal.backups import crypto
from portal.backups.models import Device, DeviceActivity, Pack, Snapshot
from portal.backups.selectors import access_device, device_activity, snapshot_home
from portal.backups.services.restore import folder_list
from tests.web.live import page_client

pytestmark = pytest.mark.django_db
MTIME = 1_700_000_000_000_000_000  # 2023-11-14 22:13:20 UTC


def _dir(name: str, tree: str, mtime_ns: int) -> dict:
    return {"name": name, "type": "dir", "mode": 0o755, "mtime_ns": mtime_ns, "tree": tree}


def agent_like_backup(device, layout: dict) -> dict:
    """A snapshot of /home/alice shaped as the agent makes it (sync_agent/tree.py):
    the folders above the backed-up one keep no time (mtime 0)."""
    blobs: list = []
    inner = device.build_tree(layout, blobs)
    home = device.blob(crypto.tree_encode([_dir("alice", inner, MTIME)]), kind="tree")
    root = device.blob(crypto.tree_encode([_dir("home", home[0], 0)]), kind="tree")
    blobs += [home, root]
    device.upload_pack(list({blob[0]: blob for blob in blobs}.values()))
    return device.commit(root[0])  # paths: ["/home/alice"]


@pytest.fixture
def laptop(enroll, alice, store_root):
    device = enroll(alice)
    return device, agent_like_backup(device, {"notes.txt": b"hello", "docs": {"a.md": b"# a"}})


def _browse(user, device, snapshot, query: str = "") -> str:
    response = page_client(user).get(f"/devices/{device.id}/snapshots/{snapshot['id']}/{query}")
    assert response.status_code == 200
    return response.content.decode()


def test_browsing_a_snapshot_starts_in_the_backed_up_folder_with_real_dates(laptop, alice):
    device, snapshot = laptop
    html = _browse(alice, device, snapshot)
    assert "notes.txt" in html and "docs" in html
    assert 'aria-current="page">/home/alice<' in html
    assert "1970" not in html
    assert re.search(r'<time datetime="2023-11-14T22:13:20', html)


def test_the_folders_above_the_backed_up_one_show_a_dash_not_1970(laptop, alice):
    device, snapshot = laptop
    html = _browse(alice, device, snapshot, "?path=/")
    assert "home" in html and "1970" not in html
    assert re.search(r"</a></td>\s*<td class=\"num\"></td><td>—</td>", html)


def test_the_api_gives_no_time_for_a_folder_the_agent_kept_none_for(laptop):
    device, snapshot = laptop
    listing = folder_list(Snapshot.objects.get(pk=snapshot["id"]), "/")
    assert listing["entries"][0]["name"] == "home" and listing["entries"][0]["mtime"] is None
    below = folder_list(Snapshot.objects.get(pk=snapshot["id"]), "/home")
    assert below["entries"][0]["mtime"].startswith("2023-11-14T22:13:20")


def test_a_snapshot_whose_folder_is_missing_from_its_tree_opens_at_its_root(laptop, alice):
    device, snapshot = laptop
    Snapshot.objects.filter(pk=snapshot["id"]).update(paths=["/srv/elsewhere"])
    assert ">home</a>" in _browse(alice, device, snapshot)


@pytest.mark.parametrize("paths, home", [
    (["/home/alice"], "home/alice"),
    (["/home/alice/Documents", "/home/alice/Pictures"], "home/alice"),
    (["/home/alice", "/srv/data"], ""),
    ([r"C:\Users\bob\Documents"], "Users/bob/Documents"),
    ([r"C:\Users\bob\Documents", r"D:\Users\bob\Music"], "Users/bob"),  # the agent drops the drive
    ([], ""),
])
def test_browsing_starts_at_the_common_folder_of_the_backed_up_ones(paths, home):
    assert snapshot_home(SimpleNamespace(paths=paths)) == home


def _activity(device) -> str:
    return device_activity(access_device(Device.objects.get(pk=device.id).user, device.id))


def test_a_device_between_backups_is_idle_not_backing_up(laptop, alice):
    device, _snapshot = laptop
    assert _activity(device) == DeviceActivity.IDLE
    html = page_client(alice).get("/devices/").content.decode()
    assert ">idle<" in html and ">backing up<" not in html
    detail = page_client(alice).get(f"/devices/{device.id}/").content.decode()
    assert ">idle<" in detail and "last backup at" in detail


def test_a_device_uploading_packs_for_its_next_snapshot_is_backing_up(laptop, alice):
    device, _snapshot = laptop
    assert device.post("/backup/packs", {"size": 1000}).status_code == 201  # the next run starts
    assert _activity(device) == DeviceActivity.BACKING_UP
    assert ">backing up<" in page_client(alice).get("/devices/").content.decode()


def test_a_run_that_stopped_mid_way_ages_back_into_idle(laptop):
    device, _snapshot = laptop
    assert device.post("/backup/packs", {"size": 1000}).status_code == 201
    long_ago = timezone.now() - timedelta(minutes=20)
    Pack.objects.filter(device_id=device.id).update(created_at=long_ago)
    Device.objects.filter(pk=device.id).update(last_seen_at=long_ago)
    assert _activity(device) == DeviceActivity.IDLE


def test_a_failed_run_and_a_new_device_say_so(laptop, enroll, alice):
    device, _snapshot = laptop
    assert device.post("/backup/reports", {"status": "failed", "error": "disk full"}).status_code == 201
    assert _activity(device) == DeviceActivity.FAILED
    assert _activity(enroll(alice, name="new")) == DeviceActivity.NEW
