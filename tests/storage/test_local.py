"""What only the embedded folder backend has to get right: staying inside its
root, atomic files on disk, and not recreating a vanished root."""

from __future__ import annotations

import io
import os

import pytest

from portal.core.errors import InvalidInput, StorageUnavailable
from portal.storage import LocalObjectStore, get_store, reset_store
from portal.storage.s3 import S3ObjectStore


@pytest.fixture
def store(tmp_path) -> LocalObjectStore:
    store = LocalObjectStore(tmp_path / "root")
    store.ensure_bucket()
    return store


def test_a_symlink_inside_the_root_cannot_lead_outside(store, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (store.root / "link").symlink_to(outside)
    with pytest.raises(InvalidInput):
        store.put("link/secret", io.BytesIO(b"x"))
    with pytest.raises(InvalidInput):
        store.open("link/secret")
    assert list(outside.iterdir()) == []


def test_objects_are_plain_files_under_the_root_and_writes_leave_no_temp_files(store):
    store.put("a/b/c.txt", io.BytesIO(b"hello"))
    assert (store.root / "a" / "b" / "c.txt").read_bytes() == b"hello"
    assert [name for _, _, files in os.walk(store.root) for name in files] == ["c.txt"]


def test_a_key_under_an_existing_object_is_refused(store):
    store.put("a", io.BytesIO(b"file"))
    with pytest.raises(InvalidInput) as caught:
        store.put("a/b", io.BytesIO(b"x"))
    assert caught.value.code == "key_conflict"


def test_temp_files_and_uploads_in_progress_are_not_listed(store):
    store.put("kept", io.BytesIO(b"x"))
    (store.root / ".tmp-crashed").write_bytes(b"half")
    upload_id = store.multipart_start("pending")
    store.multipart_put_part("pending", upload_id, 1, io.BytesIO(b"part"))
    assert [info.key for info in store.iter_objects()] == ["kept"]


def test_a_part_body_that_ends_early_is_not_stored(store):
    upload_id = store.multipart_start("f")
    with pytest.raises(InvalidInput) as caught:
        store.multipart_put_part("f", upload_id, 1, io.BytesIO(b"short"), size=10)
    assert caught.value.code == "incomplete_body"
    assert store.multipart_list_parts("f", upload_id) == []
    assert os.listdir(store.root / ".multipart" / upload_id) == ["key"]


def test_an_upload_belongs_to_its_key(store):
    upload_id = store.multipart_start("mine")
    store.multipart_abort("theirs", upload_id)  # not found for that key: a no-op
    assert store.multipart_list_parts("mine", upload_id) == []


def test_a_missing_root_is_an_outage_not_something_to_recreate(tmp_path):
    store = LocalObjectStore(tmp_path / "unmounted")
    with pytest.raises(StorageUnavailable):
        store.put("a", io.BytesIO(b"x"))
    with pytest.raises(StorageUnavailable):
        store.check()
    assert not (tmp_path / "unmounted").exists()


def test_a_root_that_is_not_a_folder_fails_the_check(tmp_path):
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(StorageUnavailable):
        LocalObjectStore(tmp_path / "file").check()


# --- the factory ---------------------------------------------------------------------------

def test_get_store_builds_the_configured_backend_once(settings, tmp_path):
    settings.STORAGE_BACKEND = "local"
    settings.STORAGE_ROOT = tmp_path / "configured"
    store = get_store()
    assert isinstance(store, LocalObjectStore) and store.root == (tmp_path / "configured").resolve()
    assert get_store() is store
    reset_store()
    assert get_store() is not store


def test_changing_storage_settings_switches_the_backend(settings):
    settings.STORAGE_BACKEND = "s3"
    settings.S3_ENDPOINT = "http://127.0.0.1:9"
    settings.S3_BUCKET = "configured-bucket"
    store = get_store()
    assert isinstance(store, S3ObjectStore)
    assert (store.endpoint_url, store.bucket) == ("http://127.0.0.1:9", "configured-bucket")


class TestPartsWrittenInPlace:
    """With the part size known at the start, parts go straight into their slot
    of one staging file and completing moves it into place without a copy."""

    SLOT = 5 * 1024 * 1024

    def start(self, store):
        return store.multipart_start("obj", part_size=self.SLOT)

    def test_parts_in_any_order_make_the_object_and_nothing_is_copied(self, store):
        parts = {n: os.urandom(self.SLOT if n < 3 else 1234) for n in (1, 2, 3)}
        upload = self.start(store)
        etags = {n: store.multipart_put_part("obj", upload, n, io.BytesIO(parts[n]), size=len(parts[n]))
                 for n in (3, 1, 2)}
        staging = store.root / ".multipart" / upload / "data"
        inode = staging.stat().st_ino
        assert [(p.number, p.size) for p in store.multipart_list_parts("obj", upload)] == \
            [(1, self.SLOT), (2, self.SLOT), (3, 1234)]
        assert store.multipart_complete("obj", upload, [(n, etags[n]) for n in (1, 2, 3)]) == 2 * self.SLOT + 1234
        assert store.open("obj").read() == parts[1] + parts[2] + parts[3]
        assert (store.root / "obj").stat().st_ino == inode, "moved into place, not copied"
        assert not (store.root / ".multipart" / upload).exists()

    def test_a_part_sent_again_replaces_the_earlier_one(self, store):
        upload = self.start(store)
        store.multipart_put_part("obj", upload, 1, io.BytesIO(b"a" * 10), size=10)
        etag = store.multipart_put_part("obj", upload, 1, io.BytesIO(b"b" * 10), size=10)
        assert [p.etag for p in store.multipart_list_parts("obj", upload)] == [etag]
        store.multipart_complete("obj", upload, [(1, etag)])
        assert store.open("obj").read() == b"b" * 10

    def test_a_part_larger_than_its_slot_is_refused_before_a_byte_is_written(self, store):
        upload = self.start(store)
        with pytest.raises(InvalidInput) as refused:
            store.multipart_put_part("obj", upload, 1, io.BytesIO(b"x" * (self.SLOT + 1)), size=self.SLOT + 1)
        assert refused.value.code == "part_too_large"
        assert store.multipart_list_parts("obj", upload) == []

    def test_a_body_that_ends_early_leaves_the_part_missing_not_short(self, store):
        upload = self.start(store)
        with pytest.raises(InvalidInput):
            store.multipart_put_part("obj", upload, 1, io.BytesIO(b"x" * 10), size=20)
        assert store.multipart_list_parts("obj", upload) == []

    def test_a_short_part_before_the_last_cannot_be_completed(self, store):
        upload = self.start(store)
        one = store.multipart_put_part("obj", upload, 1, io.BytesIO(b"x" * self.SLOT), size=self.SLOT)
        two = store.multipart_put_part("obj", upload, 2, io.BytesIO(b"y" * (self.SLOT - 1)), size=self.SLOT - 1)
        three = store.multipart_put_part("obj", upload, 3, io.BytesIO(b"z"), size=1)
        with pytest.raises(InvalidInput):
            store.multipart_complete("obj", upload, [(1, one), (2, two), (3, three)])
        assert not store.exists("obj")

