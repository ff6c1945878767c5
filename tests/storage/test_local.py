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
