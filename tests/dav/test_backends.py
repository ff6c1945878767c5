"""PUT and GET over WebDAV on both object stores: the embedded folder and S3
(SeaweedFS), with bodies past S3's multipart threshold, ranges and chunked
transfer encoding."""

from __future__ import annotations

import hashlib
import os

import pytest

from tests.dav.support import node_in
from tests.files.support_s3 import use_local, use_s3

SIZE = 20 * 1024 * 1024 + 7  # more than one 16 MiB multipart chunk


@pytest.fixture(params=["local", "s3"])
def store(request, settings, tmp_path):
    if request.param == "local":
        return use_local(settings, tmp_path / "objects")
    return use_s3(settings, request.getfixturevalue("seaweed"))


def test_a_large_put_streams_into_the_store_and_reads_back_with_ranges(store, dav, team):
    data = os.urandom(SIZE)
    assert dav.put(dav.base + "/large.bin", data=data).status_code == 201
    version = node_in(team, ["large.bin"]).current_version
    assert version.size == SIZE and store.size(version.blob.key) == SIZE
    got = dav.get(dav.base + "/large.bin")
    assert hashlib.sha256(got.content).digest() == hashlib.sha256(data).digest()
    tail = dav.get(dav.base + "/large.bin", headers={"Range": f"bytes={SIZE - 100}-"})
    assert tail.status_code == 206 and tail.content == data[-100:]
    middle = dav.get(dav.base + "/large.bin", headers={"Range": "bytes=16777210-16777220"})
    assert middle.content == data[16777210:16777221]
    assert dav.get(dav.base + "/large.bin", headers={"Range": f"bytes={SIZE + 10}-"}).status_code == 416


def test_a_chunked_put_of_unknown_length_is_stored_whole(store, dav, team):
    pieces = [os.urandom(300_000) for _ in range(7)]
    answer = dav.put(dav.base + "/chunked.bin", data=iter(pieces))  # a generator: Transfer-Encoding: chunked
    assert answer.status_code == 201, answer.text
    assert dav.get(dav.base + "/chunked.bin").content == b"".join(pieces)
    assert node_in(team, ["chunked.bin"]).size == 7 * 300_000
