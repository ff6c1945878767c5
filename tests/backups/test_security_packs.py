"""Indexed packs are immutable. The attack: a device PUTs a pack, indexes it
(so other backups deduplicate against its chunks), then, while the upload
URL is still valid, PUTs other bytes to the same URL, and every backup that
uses those chunks becomes unrecoverable. Indexing now copies the upload to
the pack's own key, which no URL writes to: a later PUT changes only the
upload object, which nothing reads. On the local store and on SeaweedFS."""

from __future__ import annotations

import io
import os
from datetime import timedelta
from urllib.parse import urlparse

import pytest
import requests
from django.utils import timezone
from rest_framework.test import APIClient

from portal.backups.models import Chunk, Pack
from portal.backups.services.gc import gc_collect
from portal.backups.services.packs import upload_key
from portal.storage import ObjectNotFound
from tests.backups.conftest import put_url
from tests.files.support_s3 import use_s3

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["local", "seaweedfs"])
def store(request, settings, tmp_path):
    if request.param == "local":
        from tests.files.support_s3 import use_local

        return use_local(settings, tmp_path / "storage")
    return use_s3(settings, request.getfixturevalue("seaweed"))


def _announce_put_index(device, blobs) -> tuple[str, str, list[dict], bytes]:
    body, entries = b"", []
    for cid, blob, kind, raw in blobs:
        entries.append({"id": cid, "offset": len(body), "length": len(blob), "raw_length": raw, "kind": kind})
        body += blob
    created = device.post("/backup/packs", {"size": len(body)}).json()
    assert put_url(device.client, created["url"], body).status_code == 200
    indexed = device.post(f"/backup/packs/{created['pack_id']}/index", {"chunks": entries})
    assert indexed.status_code == 201, indexed.content
    return created["pack_id"], created["url"], entries, body


def _download(signed_in, user, device, snapshot, path) -> bytes:
    response = signed_in(user).get(f"/api/v1/devices/{device.id}/snapshots/{snapshot['id']}/content/{path}")
    assert response.status_code == 200, getattr(response, "content", b"")
    return b"".join(response.streaming_content)


def test_a_second_put_to_an_indexed_packs_url_does_not_change_what_restores_read(
        store, enroll, signed_in, alice):
    device = enroll(alice)
    data = os.urandom(100_000)
    blobs: list = []
    root = device.build_tree({"report.bin": data}, blobs)
    pack_id, url, entries, body = _announce_put_index(device, blobs)
    snapshot = device.commit(root)

    # The attack: the same URL, within its lifetime, other bytes of the same size.
    forged = os.urandom(len(body))
    answer = put_url(device.client, url, forged)
    assert answer.status_code in (200, 403, 409, 412), getattr(answer, "content", b"")

    assert _download(signed_in, alice, device, snapshot, "report.bin") == data
    with store.open(Pack.objects.get(pack_id=pack_id).key) as stream:
        assert stream.read() == body
    # Indexing again (idempotent) does not pick up the forged upload either.
    again = device.post(f"/backup/packs/{pack_id}/index", {"chunks": entries})
    assert again.status_code == 201, again.content
    assert _download(signed_in, alice, device, snapshot, "report.bin") == data


def test_what_locate_hands_out_still_serves_the_indexed_bytes_after_a_second_put(store, enroll, alice):
    device = enroll(alice)
    blob = device.blob(os.urandom(5000))
    _, url, _, body = _announce_put_index(device, [blob])
    put_url(device.client, url, os.urandom(len(body)))
    where = device.post("/backup/chunks/locate", {"ids": [blob[0]]}).json()["chunks"][blob[0]]
    if "/storage/o/" in where["url"]:  # the local store's own signed URL
        got = device.client.get(urlparse(where["url"]).path)
        content = b"".join(got.streaming_content)
    else:
        content = requests.get(where["url"], timeout=30).content
    assert content[where["offset"]:where["offset"] + where["length"]] == blob[1]


def test_bytes_that_change_before_indexing_are_checked_in_the_sealed_copy(store, enroll, alice):
    device = enroll(alice)
    good = device.blob(os.urandom(3000))
    entry = [{"id": good[0], "offset": 0, "length": len(good[1]), "raw_length": 3000, "kind": "data"}]
    created = device.post("/backup/packs", {"size": len(good[1])}).json()
    put_url(device.client, created["url"], os.urandom(len(good[1])))  # not the blob it claims
    refused = device.post(f"/backup/packs/{created['pack_id']}/index", {"chunks": entry})
    assert refused.status_code == 400 and refused.json()["code"] == "bad_chunk"
    put_url(device.client, created["url"], good[1])
    assert device.post(f"/backup/packs/{created['pack_id']}/index", {"chunks": entry}).status_code == 201


def test_a_store_copy_is_not_changed_by_a_later_write_to_its_source(store):
    store.put("backups/uploads/ab/x", io.BytesIO(b"first"))
    assert store.copy("backups/uploads/ab/x", "backups/packs/ab/x") == 5
    store.put("backups/uploads/ab/x", io.BytesIO(b"other"))
    with store.open("backups/packs/ab/x") as stream:
        assert stream.read() == b"first"
    store.delete("backups/uploads/ab/x")
    with store.open("backups/packs/ab/x") as stream:
        assert stream.read() == b"first"
    with pytest.raises(ObjectNotFound):
        store.copy("backups/uploads/ab/missing", "backups/packs/ab/y")


def test_gc_removes_an_upload_left_behind_after_the_grace_period(store, enroll, alice):
    device = enroll(alice)
    blobs: list = []
    root = device.build_tree({"kept.txt": b"leftover"}, blobs)
    pack_id, url, _, body = _announce_put_index(device, blobs)
    device.commit(root)
    put_url(device.client, url, body)  # a late re-PUT leaves an upload object behind
    assert store.exists(upload_key(pack_id))
    gc_collect()
    assert store.exists(upload_key(pack_id))  # young: left alone
    gc_collect(now=timezone.now() + timedelta(days=3))
    assert not store.exists(upload_key(pack_id))
    assert store.exists(Pack.objects.get(pack_id=pack_id).key)


@pytest.mark.django_db(transaction=True)
def test_a_forged_put_racing_two_index_calls_never_changes_the_sealed_pack(settings, tmp_path, enroll, alice):
    """Index, forged PUT and index again at the same instant (real threads, own connections):
    the pack is sealed once, from one upload, and what it holds is what every index call checked."""
    from tests.files.support_s3 import use_local
    from tests.helpers import at_once

    store = use_local(settings, tmp_path / "storage")
    device = enroll(alice)
    blob = device.blob(os.urandom(20_000))
    entry = [{"id": blob[0], "offset": 0, "length": len(blob[1]), "raw_length": 20_000, "kind": "data"}]
    created = device.post("/backup/packs", {"size": len(blob[1])}).json()
    assert put_url(device.client, created["url"], blob[1]).status_code == 200
    path = f"/api/v1/backup/packs/{created['pack_id']}/index"
    forged = os.urandom(len(blob[1]))

    def client() -> APIClient:  # one per thread
        fresh = APIClient()
        fresh.credentials(HTTP_AUTHORIZATION=f"Bearer {device.token}")
        return fresh

    results = at_once(lambda: client().post(path, {"chunks": entry}, format="json"),
                      lambda: put_url(client(), created["url"], forged),
                      lambda: client().post(path, {"chunks": entry}, format="json"))
    statuses = [results[0].status_code, results[2].status_code]
    assert set(statuses) <= {201, 400}, statuses  # indexed, or refused as bad_chunk: never a 500
    pack = Pack.objects.get(pack_id=created["pack_id"])
    if 201 in statuses:  # sealed from the good upload, and only from it
        with store.open(pack.key) as stream:
            assert stream.read() == blob[1]
    else:  # the forged bytes arrived first: nothing was indexed
        assert pack.indexed_at is None and not Chunk.objects.filter(id=blob[0]).exists()
