"""Indexed packs are immutable. The attack: a device PUTs a pack, indexes it
(so its other backups deduplicate against its chunks), then, while the URL
is still valid, PUTs other bytes to it, and every backup that uses those
chunks becomes unrecoverable. A device PUTs a pack straight to its own key,
but through a create-only URL (S3: a conditional PUT, ``If-None-Match: *``
signed into the URL; the local store: the grant says so, and the file is
linked into place only if no object has the key): the first PUT creates the
object, every later one is refused with 412 and changes nothing. On the
local store and on SeaweedFS."""

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
    assert Pack.objects.get(pack_id=created["pack_id"]).key in urlparse(created["url"]).path or \
        "/storage/put/" in created["url"]  # S3: the pack's own key; the local store: a signed grant for it
    assert put_url(device.client, created["url"], body, created["headers"]).status_code == 200
    indexed = device.post(f"/backup/packs/{created['pack_id']}/index", {"chunks": entries})
    assert indexed.status_code == 201, indexed.content
    return created["pack_id"], created["url"], entries, body


def _download(signed_in, user, device, snapshot, path) -> bytes:
    response = signed_in(user).get(f"/api/v1/devices/{device.id}/snapshots/{snapshot['id']}/content/{path}")
    assert response.status_code == 200, getattr(response, "content", b"")
    return b"".join(response.streaming_content)


def test_a_second_put_to_an_indexed_packs_url_is_refused_and_changes_nothing(store, enroll, signed_in, alice):
    device = enroll(alice)
    data = os.urandom(100_000)
    blobs: list = []
    root = device.build_tree({"report.bin": data}, blobs)
    pack_id, url, entries, body = _announce_put_index(device, blobs)
    snapshot = device.commit(root)

    # The attack: the same URL, within its lifetime, other bytes of the same size.
    forged = os.urandom(len(body))
    answer = put_url(device.client, url, forged)
    assert answer.status_code == 412, getattr(answer, "content", b"")

    assert _download(signed_in, alice, device, snapshot, "report.bin") == data
    with store.open(Pack.objects.get(pack_id=pack_id).key) as stream:
        assert stream.read() == body
    again = device.post(f"/backup/packs/{pack_id}/index", {"chunks": entries})  # idempotent
    assert again.status_code == 201, again.content
    assert _download(signed_in, alice, device, snapshot, "report.bin") == data


def test_what_locate_hands_out_still_serves_the_indexed_bytes_after_a_second_put(store, enroll, alice):
    device = enroll(alice)
    blob = device.blob(os.urandom(5000))
    _, url, _, body = _announce_put_index(device, [blob])
    assert put_url(device.client, url, os.urandom(len(body))).status_code == 412
    where = device.post("/backup/chunks/locate", {"ids": [blob[0]]}).json()["chunks"][blob[0]]
    if "/storage/o/" in where["url"]:  # the local store's own signed URL
        got = device.client.get(urlparse(where["url"]).path)
        content = b"".join(got.streaming_content)
    else:
        content = requests.get(where["url"], timeout=30).content
    assert content[where["offset"]:where["offset"] + where["length"]] == blob[1]


def test_the_first_put_is_the_pack_and_bytes_that_are_not_its_blobs_do_not_index(store, enroll, alice):
    device = enroll(alice)
    good = device.blob(os.urandom(3000))
    entry = [{"id": good[0], "offset": 0, "length": len(good[1]), "raw_length": 3000, "kind": "data"}]
    created = device.post("/backup/packs", {"size": len(good[1])}).json()
    assert put_url(device.client, created["url"], os.urandom(len(good[1]))).status_code == 200  # not the blob
    assert put_url(device.client, created["url"], good[1]).status_code == 412  # too late to fix it
    refused = device.post(f"/backup/packs/{created['pack_id']}/index", {"chunks": entry})
    assert refused.status_code == 400 and refused.json()["code"] == "bad_chunk"
    assert not Chunk.objects.filter(id=good[0]).exists()


def test_a_create_only_url_needs_its_signed_header_on_s3(settings, seaweed, enroll, alice):
    use_s3(settings, seaweed)
    device = enroll(alice)
    blob = device.blob(os.urandom(2000))
    created = device.post("/backup/packs", {"size": len(blob[1])}).json()
    assert created["headers"] == {"If-None-Match": "*"}
    # Dropping the header (to overwrite later) breaks the signature: nothing is stored.
    assert put_url(device.client, created["url"], blob[1], headers={}).status_code == 403
    assert put_url(device.client, created["url"], blob[1], headers={"If-None-Match": "x"}).status_code == 403
    assert put_url(device.client, created["url"], blob[1]).status_code == 200


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


def test_gc_removes_an_upload_left_by_an_older_release_after_the_grace_period(store, enroll, alice):
    device = enroll(alice)
    blobs: list = []
    root = device.build_tree({"kept.txt": b"leftover"}, blobs)
    pack_id, _, _, body = _announce_put_index(device, blobs)
    device.commit(root)
    store.put(upload_key(pack_id), io.BytesIO(body))  # where releases before direct PUTs uploaded it
    gc_collect()
    assert store.exists(upload_key(pack_id))  # young: left alone
    gc_collect(now=timezone.now() + timedelta(days=3))
    assert not store.exists(upload_key(pack_id))
    assert store.exists(Pack.objects.get(pack_id=pack_id).key)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("backend", ["local", "seaweedfs"])
def test_puts_racing_on_one_create_only_url_store_exactly_one_body(request, settings, tmp_path, enroll, alice,
                                                                   backend):
    """Eight PUTs of different bytes released at the same instant (real threads): one is stored
    whole, the seven others get 412, and the index checks the one that won."""
    from tests.files.support_s3 import use_local
    from tests.helpers import at_once

    if backend == "local":
        store = use_local(settings, tmp_path / "storage")
    else:
        store = use_s3(settings, request.getfixturevalue("seaweed"))
    device = enroll(alice)
    blobs = [device.blob(os.urandom(20_000)) for _ in range(8)]
    created = device.post("/backup/packs", {"size": len(blobs[0][1])}).json()

    def client() -> APIClient:  # one per thread
        fresh = APIClient()
        fresh.credentials(HTTP_AUTHORIZATION=f"Bearer {device.token}")
        return fresh

    results = at_once(*[lambda blob=blob: put_url(client(), created["url"], blob[1]) for blob in blobs])
    statuses = sorted(getattr(r, "status_code", repr(r)) for r in results)
    assert statuses == [200] + [412] * 7, statuses
    winner = blobs[[r.status_code for r in results].index(200)]
    with store.open(Pack.objects.get(pack_id=created["pack_id"]).key) as stream:
        assert stream.read() == winner[1]
    entry = [{"id": winner[0], "offset": 0, "length": len(winner[1]), "raw_length": 20_000, "kind": "data"}]
    assert device.post(f"/backup/packs/{created['pack_id']}/index", {"chunks": entry}).status_code == 201
