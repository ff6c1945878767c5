"""One contract, both backends: every test runs against the local folder and
against SeaweedFS over S3 (the ``store`` fixture), so code written on the
embedded store behaves the same in production."""

from __future__ import annotations

import hashlib
import io
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlparse

import pytest

from portal.core.errors import InvalidInput, NotFound
from portal.storage import ObjectNotFound, UploadNotFound, signing
from portal.storage.base import CHUNK_SIZE, MIN_PART_SIZE

MiB = 1024 * 1024


class Generated:
    """A non-seekable stream of ``size`` pseudo-random bytes that remembers how
    it was read, and can fail part-way like a client that goes away."""

    def __init__(self, size: int, *, fail_after: int | None = None):
        self.remaining = size
        self.fail_after = fail_after
        self.produced = 0
        self.read_sizes: list[int] = []
        self.digest = hashlib.sha256()
        self._random = random.Random(size)

    def read(self, size: int = -1) -> bytes:
        self.read_sizes.append(size)
        want = self.remaining if size is None or size < 0 else min(size, self.remaining)
        if self.fail_after is not None and self.produced + want > self.fail_after:
            raise ConnectionResetError("the client went away")
        data = self._random.randbytes(want)
        self.remaining -= want
        self.produced += want
        self.digest.update(data)
        return data


def leftovers(store, prefix: str) -> list[str]:
    """Half-written bytes a failed upload left behind: temp files, open multipart uploads."""
    if hasattr(store, "root"):
        return [str(path) for path in store.root.rglob(".tmp-*")]
    answer = store.client.list_multipart_uploads(Bucket=store.bucket, Prefix=prefix)
    return [upload["Key"] for upload in answer.get("Uploads", [])]


def put_bytes(store, key: str, data: bytes) -> int:
    return store.put(key, io.BytesIO(data), content_type="application/octet-stream")


def read_all(store, key: str, **window) -> bytes:
    with store.open(key, **window) as stream:
        return stream.read()


# --- put, open, ranges ---------------------------------------------------------------------

def test_put_then_open_returns_the_same_bytes(store, ns):
    assert put_bytes(store, f"{ns}/hello.txt", b"hello, coffer") == 13
    assert read_all(store, f"{ns}/hello.txt") == b"hello, coffer"


def test_an_empty_object_can_be_stored_and_read(store, ns):
    assert put_bytes(store, f"{ns}/empty", b"") == 0
    assert read_all(store, f"{ns}/empty") == b""
    assert store.size(f"{ns}/empty") == 0


@pytest.mark.parametrize(("window", "expected"), [
    ({"start": 2, "end": 5}, b"2345"),
    ({"start": 7}, b"789"),
    ({"start": 0, "end": 0}, b"0"),
    ({"start": 8, "end": 1000}, b"89"),
])
def test_a_range_returns_exactly_the_requested_bytes(store, ns, window, expected):
    put_bytes(store, f"{ns}/digits", b"0123456789")
    with store.open(f"{ns}/digits", **window) as stream:
        assert stream.read() == expected
        assert (stream.length, stream.total_size) == (len(expected), 10)


def test_a_range_starting_past_the_end_is_refused(store, ns):
    put_bytes(store, f"{ns}/digits", b"0123456789")
    with pytest.raises(InvalidInput) as caught:
        store.open(f"{ns}/digits", start=10)
    assert caught.value.code == "range_not_satisfiable"


def test_a_backwards_range_is_refused_before_asking_the_store(store, ns):
    with pytest.raises(InvalidInput):
        store.open(f"{ns}/anything", start=5, end=2)


def test_putting_again_replaces_the_whole_object(store, ns):
    put_bytes(store, f"{ns}/doc", b"first version, rather long")
    put_bytes(store, f"{ns}/doc", b"second")
    assert read_all(store, f"{ns}/doc") == b"second"
    assert store.size(f"{ns}/doc") == 6


def test_a_multi_mib_object_streams_in_and_out_in_chunks(store, ns):
    source = Generated(24 * MiB + 123)
    assert store.put(f"{ns}/big.bin", source) == 24 * MiB + 123
    # Streaming: the store asked for pieces, never for "everything".
    assert all(0 < size <= 16 * MiB for size in source.read_sizes)
    digest, chunks = hashlib.sha256(), 0
    with store.open(f"{ns}/big.bin") as stream:
        for chunk in stream:
            assert len(chunk) <= CHUNK_SIZE
            digest.update(chunk)
            chunks += 1
    assert digest.hexdigest() == source.digest.hexdigest()
    assert chunks >= 24


@pytest.mark.parametrize("size", [3 * MiB, 40 * MiB], ids=["single-request", "multipart"])
def test_a_failed_upload_leaves_the_previous_object_untouched(store, ns, size):
    put_bytes(store, f"{ns}/doc", b"the good version")
    with pytest.raises(ConnectionResetError):
        store.put(f"{ns}/doc", Generated(size, fail_after=size - MiB))
    assert read_all(store, f"{ns}/doc") == b"the good version"
    assert [info.key for info in store.iter_objects(ns)] == [f"{ns}/doc"]
    assert leftovers(store, ns) == []


# --- size, exists, delete, missing keys ------------------------------------------------

def test_size_exists_and_stat_describe_the_stored_object(store, ns):
    put_bytes(store, f"{ns}/a/b.txt", b"12345")
    assert store.exists(f"{ns}/a/b.txt")
    assert store.size(f"{ns}/a/b.txt") == 5
    info = store.stat(f"{ns}/a/b.txt")
    assert (info.key, info.size) == (f"{ns}/a/b.txt", 5)
    assert info.modified.tzinfo is not None
    assert abs(info.modified.timestamp() - time.time()) < 120


def test_delete_removes_the_object_and_may_be_repeated(store, ns):
    put_bytes(store, f"{ns}/gone", b"x")
    store.delete(f"{ns}/gone")
    assert not store.exists(f"{ns}/gone")
    store.delete(f"{ns}/gone")
    store.delete(f"{ns}/never-existed")


def test_a_folder_like_prefix_is_not_an_object(store, ns):
    put_bytes(store, f"{ns}/dir/file", b"x")
    assert not store.exists(f"{ns}/dir")
    with pytest.raises(ObjectNotFound):
        store.size(f"{ns}/dir")


@pytest.mark.parametrize("operation", ["open", "size", "stat"])
def test_a_missing_key_raises_object_not_found(store, ns, operation):
    with pytest.raises(ObjectNotFound) as caught:
        getattr(store, operation)(f"{ns}/missing")
    assert isinstance(caught.value, NotFound)
    assert (caught.value.code, caught.value.status) == ("object_not_found", 404)
    assert not store.exists(f"{ns}/missing")


BAD_KEYS = ["", "/etc/passwd", "../escape", "a/../../escape", "a/./b", "a//b", "a/", "a\\b", "a\x00b",
            "line\nbreak", ".multipart/x", "a/.tmp-123", "x" * 1025]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_keys_are_refused_before_touching_the_store(store, key):
    calls = [
        lambda: store.put(key, io.BytesIO(b"x")), lambda: store.open(key), lambda: store.delete(key),
        lambda: store.exists(key), lambda: store.presign_get(key, filename="x"),
        lambda: store.multipart_start(key),
    ]
    for call in calls:
        with pytest.raises(InvalidInput) as caught:
            call()
        assert caught.value.code == "invalid_key"


def test_keys_with_spaces_and_unicode_round_trip(store, ns):
    key = f"{ns}/Dokumente/Résumé 2024 + notes (1) #final?.txt"
    put_bytes(store, key, b"ok")
    assert read_all(store, key) == b"ok"
    assert [info.key for info in store.iter_objects(ns)] == [key]


# --- presigned downloads -----------------------------------------------------------------

def test_a_presigned_download_returns_the_bytes_as_a_named_attachment(store, ns, http):
    put_bytes(store, f"{ns}/report", b"%PDF-1.7 quarterly numbers")
    url = store.presign_get(f"{ns}/report", filename="Prüfbericht 2024 \"final\".pdf",
                            content_type="application/pdf")
    answer = http.get(url)
    assert answer.status == 200
    assert answer.body == b"%PDF-1.7 quarterly numbers"
    assert answer.headers["Content-Type"] == "application/pdf"
    assert answer.headers["Content-Disposition"] == (
        "attachment; filename=\"Prufbericht 2024 _final_.pdf\"; "
        "filename*=UTF-8''Pr%C3%BCfbericht%202024%20%22final%22.pdf")


def test_an_inline_presigned_download_is_marked_inline(store, ns, http):
    put_bytes(store, f"{ns}/photo", b"\x89PNG...")
    url = store.presign_get(f"{ns}/photo", filename="photo.png", content_type="image/png", inline=True)
    answer = http.get(url)
    assert answer.status == 200
    assert answer.headers["Content-Disposition"].startswith('inline; filename="photo.png"')
    assert answer.headers["Content-Type"] == "image/png"


def test_a_presigned_download_honours_a_range_request(store, ns, http):
    put_bytes(store, f"{ns}/digits", b"0123456789")
    answer = http.get(store.presign_get(f"{ns}/digits", filename="d.txt"), headers={"Range": "bytes=3-6"})
    assert answer.status == 206
    assert answer.body == b"3456"
    assert answer.headers["Content-Range"] == "bytes 3-6/10"


def lifetime_of(url: str) -> float:
    query = parse_qs(urlparse(url).query)
    if "X-Amz-Expires" in query:
        return int(query["X-Amz-Expires"][0])
    purpose = signing.GET if "/storage/o/" in url else signing.PART
    return signing.verify(purpose, url.rstrip("/").rpartition("/")[2])["exp"] - time.time()


@pytest.mark.parametrize(("asked", "longest"), [(None, 300), (10_000, 300), (30, 30)])
def test_signed_urls_never_live_longer_than_five_minutes(store, ns, asked, longest):
    upload_id = store.multipart_start(f"{ns}/up")
    urls = [store.presign_get(f"{ns}/x", filename="x", expires=asked),
            store.multipart_part_url(f"{ns}/up", upload_id, 1, expires=asked)]
    for url in urls:
        assert longest - 5 <= lifetime_of(url) <= longest
    store.multipart_abort(f"{ns}/up", upload_id)


# --- multipart ---------------------------------------------------------------------------

def upload_parts(store, http, key, upload_id, parts: dict[int, bytes]) -> dict[int, str]:
    """PUT the parts to their URLs from several threads at once, in the given order."""
    def send(number: int) -> tuple[int, str]:
        answer = http.put(store.multipart_part_url(key, upload_id, number), parts[number])
        assert answer.status == 200, answer.body
        return number, answer.headers["ETag"]

    with ThreadPoolExecutor(max_workers=len(parts)) as pool:
        return dict(pool.map(send, parts))


def part_bytes(number: int, size: int) -> bytes:
    return (f"part {number}|".encode() * (size // 7 + 1))[:size]


def test_parts_uploaded_out_of_order_in_parallel_complete_into_one_object(store, ns, http):
    key = f"{ns}/video.mp4"
    parts = {3: part_bytes(3, MiB + 17), 1: part_bytes(1, MIN_PART_SIZE), 2: part_bytes(2, MIN_PART_SIZE)}
    upload_id = store.multipart_start(key, content_type="video/mp4")
    etags = upload_parts(store, http, key, upload_id, parts)

    listed = store.multipart_list_parts(key, upload_id)
    assert [(p.number, p.size, p.etag) for p in listed] == [
        (n, len(parts[n]), etags[n]) for n in (1, 2, 3)]
    assert len(set(etags.values())) == 3, "each part's ETag names that part"
    assert not store.exists(key)  # nothing is visible before complete

    size = store.multipart_complete(key, upload_id, [(n, etags[n]) for n in (1, 2, 3)])
    assert size == sum(len(data) for data in parts.values())
    assert read_all(store, key) == parts[1] + parts[2] + parts[3]
    with pytest.raises(UploadNotFound):
        store.multipart_list_parts(key, upload_id)


def test_list_parts_reports_only_the_parts_that_arrived(store, ns, http):
    upload_id = store.multipart_start(f"{ns}/f")
    assert store.multipart_list_parts(f"{ns}/f", upload_id) == []
    etags = upload_parts(store, http, f"{ns}/f", upload_id, {2: b"second", 5: b"fifth"})
    assert [(p.number, p.etag) for p in store.multipart_list_parts(f"{ns}/f", upload_id)] == [
        (2, etags[2]), (5, etags[5])]
    store.multipart_abort(f"{ns}/f", upload_id)


def test_a_part_sent_again_counts_once(store, ns, http):
    upload_id = store.multipart_start(f"{ns}/f")
    upload_parts(store, http, f"{ns}/f", upload_id, {1: b"retried part"})
    etag = upload_parts(store, http, f"{ns}/f", upload_id, {1: b"retried part"})[1]
    assert [(p.number, p.size, p.etag) for p in store.multipart_list_parts(f"{ns}/f", upload_id)] == [
        (1, 12, etag)]
    assert store.multipart_complete(f"{ns}/f", upload_id, [(1, etag)]) == 12
    assert read_all(store, f"{ns}/f") == b"retried part"


def test_completing_with_the_etag_of_a_resent_part_uses_its_new_bytes(store, ns, http):
    upload_id = store.multipart_start(f"{ns}/f")
    upload_parts(store, http, f"{ns}/f", upload_id, {1: b"first try"})
    etag = upload_parts(store, http, f"{ns}/f", upload_id, {1: b"second try"})[1]
    assert store.multipart_complete(f"{ns}/f", upload_id, [(1, etag)]) == 10
    assert read_all(store, f"{ns}/f") == b"second try"


def test_completing_with_a_missing_part_fails_and_keeps_the_upload(store, ns, http):
    key = f"{ns}/f"
    parts = {1: part_bytes(1, MIN_PART_SIZE), 3: b"tail"}
    upload_id = store.multipart_start(key)
    etags = upload_parts(store, http, key, upload_id, parts)
    with pytest.raises(InvalidInput) as caught:
        store.multipart_complete(key, upload_id, [(1, etags[1]), (2, '"0123"'), (3, etags[3])])
    assert caught.value.detail == {"part": 2}
    assert not store.exists(key)

    etags.update(upload_parts(store, http, key, upload_id, {2: part_bytes(2, MIN_PART_SIZE)}))
    store.multipart_complete(key, upload_id, sorted(etags.items()))
    assert store.size(key) == 2 * MIN_PART_SIZE + 4


def test_completing_with_a_wrong_etag_fails(store, ns, http):
    upload_id = store.multipart_start(f"{ns}/f")
    upload_parts(store, http, f"{ns}/f", upload_id, {1: b"data"})
    with pytest.raises(InvalidInput):
        store.multipart_complete(f"{ns}/f", upload_id, [(1, '"%s"' % hashlib.md5(b"other").hexdigest())])
    store.multipart_abort(f"{ns}/f", upload_id)


def test_every_part_but_the_last_must_be_at_least_5_mib(store, ns, http):
    upload_id = store.multipart_start(f"{ns}/f")
    etags = upload_parts(store, http, f"{ns}/f", upload_id, {1: b"small", 2: b"last"})
    with pytest.raises(InvalidInput) as caught:
        store.multipart_complete(f"{ns}/f", upload_id, sorted(etags.items()))
    assert caught.value.code == "part_too_small"
    store.multipart_abort(f"{ns}/f", upload_id)


@pytest.mark.parametrize("parts", [[], [(2, '"a"'), (1, '"b"')], [(1, '"a"'), (1, '"a"')]])
def test_a_malformed_part_list_is_refused(store, ns, parts):
    upload_id = store.multipart_start(f"{ns}/f")
    with pytest.raises(InvalidInput):
        store.multipart_complete(f"{ns}/f", upload_id, parts)
    store.multipart_abort(f"{ns}/f", upload_id)


@pytest.mark.parametrize("number", [0, 10_001])
def test_part_numbers_run_from_1_to_10000(store, ns, number):
    with pytest.raises(InvalidInput):
        store.multipart_part_url(f"{ns}/f", "some-upload-id-000000", number)


def test_abort_forgets_the_upload_and_may_be_repeated(store, ns, http):
    upload_id = store.multipart_start(f"{ns}/f")
    upload_parts(store, http, f"{ns}/f", upload_id, {1: b"data"})
    store.multipart_abort(f"{ns}/f", upload_id)
    store.multipart_abort(f"{ns}/f", upload_id)
    with pytest.raises(UploadNotFound):
        store.multipart_list_parts(f"{ns}/f", upload_id)
    assert not store.exists(f"{ns}/f")
    if hasattr(store, "root"):
        assert os.listdir(store.root / ".multipart") == []


def test_an_unknown_upload_is_not_found(store, ns):
    with pytest.raises(UploadNotFound):
        store.multipart_list_parts(f"{ns}/f", "no-such-upload-0000000000")
    with pytest.raises(UploadNotFound):
        store.multipart_complete(f"{ns}/f", "no-such-upload-0000000000", [(1, '"abc"')])


# --- listing, health -----------------------------------------------------------------------

def test_iter_objects_lists_what_was_put_under_a_prefix(store, ns, http):
    for key, data in [(f"{ns}/b/2", b"22"), (f"{ns}/a", b"1"), (f"{ns}/b/1", b"333"), (f"{ns}-other/x", b"")]:
        put_bytes(store, key, data)
    pending = store.multipart_start(f"{ns}/pending")  # unfinished uploads are not objects
    upload_parts(store, http, f"{ns}/pending", pending, {1: b"part"})

    listed = sorted((info.key, info.size) for info in store.iter_objects(f"{ns}/"))
    assert listed == [(f"{ns}/a", 1), (f"{ns}/b/1", 3), (f"{ns}/b/2", 2)]
    assert sorted(info.key for info in store.iter_objects(f"{ns}/b")) == [f"{ns}/b/1", f"{ns}/b/2"]
    assert f"{ns}-other/x" in {info.key for info in store.iter_objects(ns)}
    assert list(store.iter_objects(f"{ns}/nothing-here")) == []
    store.multipart_abort(f"{ns}/pending", pending)


def test_a_healthy_store_passes_its_check(store):
    store.ensure_bucket()  # a second time is harmless
    store.check()
