"""known → pack → PUT → index → snapshot, with packs built by the portal's own crypto."""

import io
import time

import pytest

from portal.backups import crypto
from portal.backups.keys import user_key_set
from portal.backups.models import Chunk, Device as DeviceRow, Pack, Snapshot, pack_key
from tests.helpers import assert_error, last_event

pytestmark = pytest.mark.django_db


def test_a_whole_backup_run_commits_a_snapshot(enroll, alice, store_root):
    device = enroll(alice)
    snapshot = device.backup({"notes.txt": b"hello", "docs": {"big.bin": bytes(range(256)) * 1000}})
    assert snapshot["root"] and snapshot["paths"] == ["/home/alice"] and snapshot["files"] == 1
    row = DeviceRow.objects.get(pk=device.id)
    assert row.last_backup_at is not None and row.last_error == ""
    assert last_event("backup.completed").target_id == str(snapshot["id"])
    listed = device.get("/backup/snapshots").json()
    assert [s["id"] for s in listed["results"]] == [snapshot["id"]]


def test_known_answers_which_ids_are_indexed(enroll, alice, store_root):
    device = enroll(alice)
    blob = device.blob(b"some data")
    assert device.post("/backup/chunks/known", {"ids": [blob[0]]}).json() == {"known": []}
    device.upload_pack([blob])
    other = "f" * 64
    assert device.post("/backup/chunks/known", {"ids": [blob[0], other]}).json() == {"known": [blob[0]]}


def test_known_refuses_bad_ids_and_too_many(enroll, alice):
    device = enroll(alice)
    assert_error(device.post("/backup/chunks/known", {"ids": ["xyz"]}), 400, "invalid_ids")
    assert_error(device.post("/backup/chunks/known", {"ids": "abc"}), 400, "invalid_ids")
    assert_error(device.post("/backup/chunks/known", {"ids": ["a" * 64] * 10_001}), 400, "too_many_ids")
    assert_error(device.post("/backup/chunks/known", {"ids": [], "more": 1}), 400, "invalid_input")


def test_known_is_one_fast_query_for_ten_thousand_ids(enroll, alice, store_root, django_assert_max_num_queries):
    device = enroll(alice)
    pack = Pack.objects.create(pack_id="a" * 32, size=10**9, indexed_at="2026-01-01T00:00Z", owner=alice,
                               checked_at="2026-01-01T00:00Z", key_set=user_key_set(alice))
    ids = [f"{i:064x}" for i in range(10_000)]
    Chunk.objects.bulk_create(Chunk(id=cid, pack=pack, owner=alice, offset=i * 100, length=100, raw_length=70,
                                    kind="data")
                              for i, cid in enumerate(ids[::2]))
    started = time.monotonic()
    with django_assert_max_num_queries(5):  # auth, touch, the lookup, the claim
        response = device.post("/backup/chunks/known", {"ids": ids})
    assert time.monotonic() - started < 3
    assert sorted(response.json()["known"]) == ids[::2]


def test_locate_answers_where_chunks_are_and_a_url_that_serves_ranges(enroll, alice, store_root):
    device = enroll(alice)
    first, second = device.blob(b"first chunk"), device.blob(b"second chunk" * 10)
    pack_id = device.upload_pack([first, second])
    missing = "e" * 64
    answer = device.post("/backup/chunks/locate", {"ids": [second[0], missing]}).json()
    assert answer["missing"] == [missing]
    where = answer["chunks"][second[0]]
    assert (where["pack_id"], where["offset"], where["length"]) == (pack_id, len(first[1]), len(second[1]))
    url = where["url"].removeprefix("http://127.0.0.1:8000")
    end = where["offset"] + where["length"] - 1
    ranged = device.client.get(url, HTTP_RANGE=f"bytes={where['offset']}-{end}")
    assert ranged.status_code == 206
    blob = b"".join(ranged.streaming_content)
    assert crypto.open_blob(device.keys.data_key, second[0], blob) == b"second chunk" * 10


def test_locate_refuses_bad_input(enroll, alice):
    assert_error(enroll(alice).post("/backup/chunks/locate", {"ids": [1]}), 400, "invalid_ids")


def test_a_pack_is_announced_with_an_exact_size(enroll, alice, store_root):
    device = enroll(alice)
    response = device.post("/backup/packs", {"size": 1000})
    assert response.status_code == 201
    body = response.json()
    assert len(body["pack_id"]) == 32 and "/storage/put/" in body["url"] and body["expires_at"]
    assert body["headers"] == {"If-None-Match": "*"}
    assert_error(device.post("/backup/packs", {"size": 0}), 400, "invalid_input")
    assert_error(device.post("/backup/packs", {"size": "10"}), 400, "invalid_input")
    assert_error(device.post("/backup/packs", {"size": 10**12}), 400, "invalid_input")


def test_the_signed_put_url_refuses_a_body_of_another_size(enroll, alice, store_root):
    from tests.backups.conftest import put_url

    device = enroll(alice)
    url = device.post("/backup/packs", {"size": 100}).json()["url"]
    assert_error(put_url(device.client, url, b"x" * 99), 400, "size_mismatch")
    assert_error(put_url(device.client, url + "x", b"x" * 100), 403, "link_invalid")
    assert put_url(device.client, url, b"x" * 100).status_code == 200


def test_indexing_is_idempotent_and_the_first_registration_wins(enroll, alice, store_root):
    laptop, desktop = enroll(alice), enroll(alice, name="desktop")
    shared, own = laptop.blob(b"shared"), desktop.blob(b"own")
    first = laptop.upload_pack([shared])
    body = shared[1] + own[1]
    created = desktop.post("/backup/packs", {"size": len(body)}).json()
    from tests.backups.conftest import put_url

    put_url(desktop.client, created["url"], body)
    entries = [{"id": shared[0], "offset": 0, "length": len(shared[1]), "raw_length": 6, "kind": "data"},
               {"id": own[0], "offset": len(shared[1]), "length": len(own[1]), "raw_length": 3, "kind": "data"}]
    path = f"/backup/packs/{created['pack_id']}/index"
    assert desktop.post(path, {"chunks": entries}).json() == {"registered": 1, "duplicates": 1}
    assert desktop.post(path, {"chunks": entries}).json() == {"registered": 1, "duplicates": 1}
    assert Chunk.objects.get(id=shared[0]).pack.pack_id == first


def test_indexing_refuses_a_missing_or_short_pack(enroll, alice, store_root):
    from tests.backups.conftest import put_url

    device = enroll(alice)
    blob = device.blob(b"data")
    entry = [{"id": blob[0], "offset": 0, "length": len(blob[1]), "raw_length": 4, "kind": "data"}]
    created = device.post("/backup/packs", {"size": len(blob[1])}).json()
    path = f"/backup/packs/{created['pack_id']}/index"
    assert_error(device.post(path, {"chunks": entry}), 409, "pack_missing")
    assert put_url(device.client, created["url"], blob[1]).status_code == 200
    assert device.post(path, {"chunks": entry}).status_code == 201
    # An object of another size (only a fault of the store itself can make one) does not index.
    short = device.post("/backup/packs", {"size": len(blob[1])}).json()
    store_root.put(pack_key(short["pack_id"]), io.BytesIO(blob[1][:-1]))
    assert_error(device.post(f"/backup/packs/{short['pack_id']}/index", {"chunks": entry}), 409,
                 "pack_size_mismatch")


def test_indexing_refuses_a_blob_that_is_not_its_chunk(enroll, alice, store_root):
    from tests.backups.conftest import put_url

    device = enroll(alice)
    blob = device.blob(b"data")
    created = device.post("/backup/packs", {"size": len(blob[1])}).json()
    put_url(device.client, created["url"], blob[1])
    path = f"/backup/packs/{created['pack_id']}/index"
    forged = [{"id": "c" * 64, "offset": 0, "length": len(blob[1]), "raw_length": 4, "kind": "data"}]
    assert_error(device.post(path, {"chunks": forged}), 400, "bad_chunk")
    wrong_size = [{"id": blob[0], "offset": 0, "length": len(blob[1]), "raw_length": 5, "kind": "data"}]
    assert_error(device.post(path, {"chunks": wrong_size}), 400, "bad_chunk")
    assert not Chunk.objects.exists()


def test_indexing_refuses_bad_entries_and_other_devices_packs(enroll, alice, bob, store_root):
    device, other = enroll(alice), enroll(bob)
    created = device.post("/backup/packs", {"size": 100}).json()
    path = f"/backup/packs/{created['pack_id']}/index"
    entry = {"id": "a" * 64, "offset": 90, "length": 29, "raw_length": 0, "kind": "data"}
    assert_error(device.post(path, {"chunks": [entry]}), 400, "invalid_chunks")  # past the end
    assert_error(device.post(path, {"chunks": [{**entry, "offset": 0, "kind": "blob"}]}), 400, "invalid_chunks")
    assert_error(device.post(path, {"chunks": []}), 400, "invalid_chunks")
    assert_error(other.post(path, {"chunks": [{**entry, "offset": 0}]}), 404, "not_found")


def test_a_snapshot_whose_root_is_not_known_is_refused(enroll, alice, store_root):
    device = enroll(alice)
    blobs = []
    root = device.build_tree({"a.txt": b"a"}, blobs)
    response = device.post("/backup/snapshots", {"root": root, "started_at": "2026-01-01T10:00:00Z",
                                                  "finished_at": "2026-01-01T10:01:00Z", "paths": ["/x"],
                                                  "hostname": "h", "stats": {"files": 1}})
    assert_error(response, 409, "missing_chunks")
    assert response.json()["detail"] == {"missing": [root]}
    assert not Snapshot.objects.exists()


def test_a_snapshot_with_bad_fields_is_refused(enroll, alice):
    device = enroll(alice)
    good = {"root": "a" * 64, "started_at": "2026-01-01T10:00:00Z", "finished_at": "2026-01-01T10:01:00Z",
            "paths": [], "hostname": "h", "stats": {}}
    for bad in ({"root": "nope"}, {"started_at": "yesterday"}, {"finished_at": "2025-01-01T00:00:00Z"},
                {"stats": {"files": -1}}, {"stats": {"colour": 1}}, {"extra": 1}):
        assert device.post("/backup/snapshots", {**good, **bad}).status_code == 400, bad


def test_a_failure_report_sets_the_error_state_until_a_backup_succeeds(enroll, signed_in, alice, store_root):
    device = enroll(alice)
    response = device.post("/backup/reports", {"status": "failed", "error": "disk full"})
    assert response.status_code == 201
    shown = signed_in(alice).get(f"/api/v1/devices/{device.id}").json()
    assert shown["last_error"] == "disk full"
    assert last_event("backup.failed").details == {"error": "disk full"}
    device.backup({"a": b"a"})
    assert signed_in(alice).get(f"/api/v1/devices/{device.id}").json()["last_error"] == ""


def test_a_failure_report_with_bad_input_is_refused(enroll, alice):
    device = enroll(alice)
    assert_error(device.post("/backup/reports", {"status": "ok", "error": "x"}), 400, "invalid_input")
    assert_error(device.post("/backup/reports", {"status": "failed"}), 400, "invalid_input")
