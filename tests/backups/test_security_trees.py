"""Malicious snapshot trees, through the real API.

- Names that would make a restore write outside its target (``../../x``,
  ``/tmp/x``, ``a/../../x``, NUL, ``.``, ``..``, empty, a name twice: a
  symlink, then a folder written through it) are refused when the snapshot is
  committed, and refused by the server-side browse and zip if such a tree is
  stored anyway (the check skipped, as by a compromised portal).
- Bounded work: a tree shaped as a deep DAG (each level references the same
  subtree twice: 2^40 logical files from 41 trees) is answered with 413 and a
  code naming the limit, in bounded time and memory; so are a too deep folder
  and too many bytes; a file never streams more than its size.
"""

from __future__ import annotations

import os
import time
import tracemalloc

import pytest

from portal.backups.services import snapshots
from tests.backups.malicious import STAMP, Builder, dir_entry as _dir, file_entry as _file
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db
def _malicious_docs(builder: Builder, bad: list[dict]) -> str:
    """A root with a clean notes.txt and a docs/ folder holding ``bad`` entries."""
    notes = builder.data(b"clean notes")
    return builder.tree([_file("notes.txt", notes, 11), _dir("docs", builder.tree(bad))])


def _bad_entries(builder: Builder) -> dict[str, list[dict]]:
    payload = builder.data(b"owned")
    inner = builder.tree([_file("x", payload, 5)])
    return {name: [_file(name, payload, 5)] for name in ("../../x", "/tmp/x", "a/../../x", "a\x00b", ".", "..", "")} | {
        "symlink then a folder through it": [
            {"name": "link", "type": "symlink", "mode": 0o777, "mtime_ns": STAMP, "target": "/tmp"},
            _dir("link", inner)],
        "unknown type": [{"name": "dev", "type": "blockdevice", "mode": 0o600, "mtime_ns": STAMP}],
    }


CASES = ["../../x", "/tmp/x", "a/../../x", "a\x00b", ".", "..", "", "symlink then a folder through it",
         "unknown type"]


@pytest.mark.parametrize("case", CASES)
def test_the_portal_refuses_to_commit_a_tree_with_an_unsafe_name(case, enroll, alice, store_root):
    builder = Builder(enroll(alice))
    bad = _bad_entries(builder)[case]
    body = assert_error(builder.commit(_malicious_docs(builder, bad)), 400, "unsafe_entry")
    assert body["detail"]["folder"] == "docs"
    assert body["detail"]["name"] == bad[-1]["name"]
    assert repr(f"docs/{bad[-1]['name']}") in body["message"]
    from portal.backups.models import Snapshot

    assert not Snapshot.objects.exists()


def test_a_clean_tree_still_commits_and_a_second_commit_reuses_the_check(enroll, alice, store_root):
    device = enroll(alice)
    assert device.backup({"docs": {"a.txt": b"a"}, "b.txt": b"b"})["id"]
    assert device.backup({"docs": {"a.txt": b"a"}, "b.txt": b"b"})["id"]


@pytest.fixture
def stored_anyway(monkeypatch, enroll, alice, store_root, signed_in):
    """``stored_anyway(case)`` -> (client, base URL) of a snapshot whose docs/ holds
    an unsafe entry, committed with the portal's check skipped."""
    monkeypatch.setattr(snapshots, "check_snapshot_trees", lambda reader, root: None)
    device = enroll(alice)

    def make(case: str):
        builder = Builder(device)
        committed = builder.commit(_malicious_docs(builder, _bad_entries(builder)[case]))
        assert committed.status_code == 201, committed.content
        return signed_in(alice), f"/api/v1/devices/{device.id}/snapshots/{committed.json()['id']}"

    return make


@pytest.mark.parametrize("case", CASES)
def test_the_server_side_zip_refuses_a_stored_tree_with_an_unsafe_name(case, stored_anyway):
    client, base = stored_anyway(case)
    body = assert_error(client.get(base + "/zip"), 409, "unsafe_entry")
    assert body["detail"]["folder"] == "docs"
    assert_error(client.get(base + "/zip/docs"), 409, "unsafe_entry")
    assert_error(client.get(base + "/tree/docs"), 409, "unsafe_entry")
    # The clean parts stay readable.
    assert client.get(base + "/tree").status_code == 200
    response = client.get(base + "/content/notes.txt")
    assert b"".join(response.streaming_content) == b"clean notes"


def test_a_download_path_cannot_climb_out_of_the_snapshot(stored_anyway):
    client, base = stored_anyway("../../x")
    assert_error(client.get(base + "/content/docs/../../x"), 400, "invalid_path")
    assert_error(client.get(base + "/content/docs/..%2F..%2Fx"), 400, "invalid_path")


# --- bounded work ----------------------------------------------------------------------------
def _dag(builder: Builder, levels: int) -> str:
    tree = builder.tree([_file("f", builder.data(b"leaf"), 4)])
    for _ in range(levels):
        tree = builder.tree([_dir("a", tree), _dir("b", tree)])
    return tree


@pytest.fixture
def committed(enroll, alice, store_root, signed_in):
    device = enroll(alice)

    def make(root_of) -> str:
        builder = Builder(device)
        response = builder.commit(root_of(builder))
        assert response.status_code == 201, response.content
        return f"/api/v1/devices/{device.id}/snapshots/{response.json()['id']}"

    return make


def test_a_deep_dag_of_two_to_the_forty_files_is_refused_quickly_and_in_bounded_memory(
        committed, signed_in, alice):
    base = committed(lambda builder: _dag(builder, 40))
    client = signed_in(alice)
    started = time.monotonic()
    body = assert_error(client.get(base + "/zip"), 413, "restore_limit_entries")
    elapsed = time.monotonic() - started
    assert body["detail"]["limit"] == 200_000
    tracemalloc.start()
    try:
        assert_error(client.get(base + "/zip/a/b"), 413, "restore_limit_entries")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"DAG zip refused after {elapsed:.2f} s, peak traced memory {peak / 2**20:.1f} MiB")
    assert peak < 512 * 2**20 and elapsed < 60
    # Browsing one folder of it stays cheap and fine.
    assert [e["name"] for e in client.get(base + "/tree/a/b/a").json()["entries"]] == ["a", "b"]


def test_the_entry_limit_is_a_setting(committed, signed_in, alice, settings):
    settings.BACKUP_RESTORE_MAX_ENTRIES = 50
    base = committed(lambda builder: _dag(builder, 10))
    body = assert_error(signed_in(alice).get(base + "/zip"), 413, "restore_limit_entries")
    assert body["detail"] == {"limit": 50}
    assert signed_in(alice).get(base + "/zip/" + "/".join("a" * 6)).status_code == 200  # 2^4 files: small


def test_a_folder_deeper_than_the_limit_is_refused(committed, signed_in, alice, settings):
    settings.BACKUP_RESTORE_MAX_DEPTH = 20

    def chain(builder: Builder) -> str:
        tree = builder.tree([_file("f", builder.data(b"deep"), 4)])
        for _ in range(30):
            tree = builder.tree([_dir("d", tree)])
        return tree

    base = committed(chain)
    client = signed_in(alice)
    assert_error(client.get(base + "/zip"), 413, "restore_limit_depth")
    assert_error(client.get(base + "/tree/" + "/".join("d" * 25)), 413, "restore_limit_depth")
    assert client.get(base + "/zip/" + "/".join("d" * 15)).status_code == 200


def test_more_bytes_than_the_limit_are_refused_before_any_is_sent(committed, signed_in, alice, settings):
    settings.BACKUP_RESTORE_MAX_BYTES = 100_000
    data = os.urandom(60_000)

    def two_files(builder: Builder) -> str:
        cid = builder.data(data)
        return builder.tree([_file("one.bin", cid, len(data)), _file("two.bin", cid, len(data))])

    base = committed(two_files)
    client = signed_in(alice)
    assert_error(client.get(base + "/zip"), 413, "restore_limit_bytes")
    assert b"".join(client.get(base + "/content/one.bin").streaming_content) == data
    settings.BACKUP_RESTORE_MAX_BYTES = 50_000
    assert_error(client.get(base + "/content/one.bin"), 413, "restore_limit_bytes")


def test_a_file_never_streams_more_than_its_size(committed, signed_in, alice):
    def liar(builder: Builder) -> str:
        cid = builder.data(os.urandom(64 * 1024))
        entry = _file("small.txt", cid, 10) | {"chunks": [cid] * 1000}  # 64 MiB behind a 10-byte size
        return builder.tree([entry])

    base = committed(liar)
    assert_error(signed_in(alice).get(base + "/content/small.txt"), 409, "snapshot_damaged")
