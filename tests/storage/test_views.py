"""The portal's own signed URLs (local backend): downloads with ranges, part uploads, refusals."""

from __future__ import annotations

import io
import json
import time

import pytest
from django.conf import settings
from django.test import Client

from portal.storage import signing
from portal.storage.base import content_disposition
from portal.storage.views import RangeNotSatisfiable, requested_window


def path_of(url: str) -> str:
    assert url.startswith(settings.PUBLIC_URL + "/storage/")
    return url[len(settings.PUBLIC_URL):]


@pytest.fixture
def digits(local_store) -> str:
    local_store.put("docs/digits.txt", io.BytesIO(b"0123456789"))
    url = local_store.presign_get("docs/digits.txt", filename="digits.txt", content_type="text/plain")
    return path_of(url)


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def assert_refused(response, status: int, code: str) -> None:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    answer = json.loads(response.content)
    assert answer["code"] == code
    assert answer["message"] and answer["detail"] is not None


# --- downloads -------------------------------------------------------------------------

def test_a_signed_link_streams_the_whole_object_with_safe_headers(client, digits):
    response = client.get(digits)
    assert response.status_code == 200
    assert response.streaming
    assert body(response) == b"0123456789"
    assert response["Content-Length"] == "10"
    assert response["Content-Type"] == "text/plain"
    assert response["Content-Disposition"] == (
        "attachment; filename=\"digits.txt\"; filename*=UTF-8''digits.txt")
    assert response["Accept-Ranges"] == "bytes"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["ETag"].startswith('"')
    assert "Content-Security-Policy" not in response


def test_an_inline_link_is_sandboxed(client, local_store):
    local_store.put("page.html", io.BytesIO(b"<script>alert(1)</script>"))
    url = local_store.presign_get("page.html", filename="page.html", content_type="text/html", inline=True)
    response = client.get(path_of(url))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("inline;")
    assert response["Content-Security-Policy"] == "sandbox"


@pytest.mark.parametrize(("header", "content_range", "expected"), [
    ("bytes=2-5", "bytes 2-5/10", b"2345"),
    ("bytes=7-", "bytes 7-9/10", b"789"),
    ("bytes=-3", "bytes 7-9/10", b"789"),
    ("bytes=5-1000", "bytes 5-9/10", b"56789"),
    ("bytes=-50", "bytes 0-9/10", b"0123456789"),
])
def test_a_range_request_gets_206_with_content_range(client, digits, header, content_range, expected):
    response = client.get(digits, headers={"Range": header})
    assert response.status_code == 206
    assert response["Content-Range"] == content_range
    assert response["Content-Length"] == str(len(expected))
    assert body(response) == expected


@pytest.mark.parametrize("header", ["bytes=10-", "bytes=99-100", "bytes=-0"])
def test_a_range_outside_the_object_gets_416_with_its_size(client, digits, header):
    response = client.get(digits, headers={"Range": header})
    assert_refused(response, 416, "range_not_satisfiable")
    assert response["Content-Range"] == "bytes */10"


@pytest.mark.parametrize("header", ["bytes=0-1,4-5", "items=0-3", "bytes=5-2", "bytes=x-y"])
def test_multiple_or_malformed_ranges_get_the_whole_object(client, digits, header):
    response = client.get(digits, headers={"Range": header})
    assert response.status_code == 200
    assert body(response) == b"0123456789"


def test_any_range_of_an_empty_object_is_unsatisfiable():
    assert requested_window(None, 0) is None
    with pytest.raises(RangeNotSatisfiable):
        requested_window("bytes=0-", 0)
    with pytest.raises(RangeNotSatisfiable):
        requested_window("bytes=-5", 0)


def test_head_answers_the_headers_without_a_body(client, digits):
    response = client.head(digits, headers={"Range": "bytes=2-3"})
    assert response.status_code == 206
    assert response["Content-Length"] == "2"
    assert response["Content-Range"] == "bytes 2-3/10"
    assert body(response) == b""


def test_other_methods_are_not_allowed(client, digits):
    assert client.post(digits).status_code == 405
    assert client.delete(digits).status_code == 405


def test_a_link_to_a_deleted_object_answers_404_json(client, local_store, digits):
    local_store.delete("docs/digits.txt")
    assert_refused(client.get(digits), 404, "object_not_found")


# --- refused links ---------------------------------------------------------------------

def test_an_expired_link_is_refused_with_403(client, local_store, monkeypatch):
    local_store.put("old", io.BytesIO(b"x"))
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() - 301)  # signed five minutes ago
    url = local_store.presign_get("old", filename="old.txt")
    monkeypatch.setattr(time, "time", real_time)
    assert_refused(client.get(path_of(url)), 403, "link_expired")


def test_a_link_asked_to_be_short_expires_before_the_maximum(client, local_store, monkeypatch):
    local_store.put("brief", io.BytesIO(b"x"))
    url = local_store.presign_get("brief", filename="brief.txt", expires=5)
    assert client.get(path_of(url)).status_code == 200
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 10)
    assert_refused(client.get(path_of(url)), 403, "link_expired")


@pytest.mark.parametrize("tamper", [
    lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),
    lambda token: "not-a-token",
    lambda token: token.split(":")[0] + ":abc:def",
])
def test_a_tampered_link_is_refused_with_403(client, digits, tamper):
    token = digits.rpartition("/")[2]
    assert_refused(client.get("/storage/o/" + tamper(token)), 403, "link_invalid")


def test_a_download_link_cannot_upload_a_part(client, digits):
    token = digits.rpartition("/")[2]
    assert_refused(client.put("/storage/part/" + token, b"x", content_type="application/octet-stream"),
                   403, "link_invalid")


def test_a_part_link_cannot_download(client, local_store):
    upload_id = local_store.multipart_start("f")
    token = local_store.multipart_part_url("f", upload_id, 1).rpartition("/")[2]
    assert_refused(client.get("/storage/o/" + token), 403, "link_invalid")


# --- part uploads -------------------------------------------------------------------------

def put_part(client, url: str, data: bytes, **extra):
    return client.put(path_of(url), data, content_type="application/octet-stream", **extra)


def test_a_part_upload_needs_no_login_and_no_csrf_token(local_store):
    upload_id = local_store.multipart_start("f")
    response = put_part(Client(enforce_csrf_checks=True), local_store.multipart_part_url("f", upload_id, 1),
                        b"part one")
    assert response.status_code == 200
    assert [p.etag for p in local_store.multipart_list_parts("f", upload_id)] == [response["ETag"]]


def test_a_part_larger_than_djangos_memory_limit_is_streamed_to_disk(client, local_store):
    data = bytes(range(256)) * (12 * 1024)  # 3 MiB, above DATA_UPLOAD_MAX_MEMORY_SIZE
    assert len(data) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    upload_id = local_store.multipart_start("f")
    response = put_part(client, local_store.multipart_part_url("f", upload_id, 1), data)
    assert response.status_code == 200
    assert [part.size for part in local_store.multipart_list_parts("f", upload_id)] == [len(data)]


def test_a_part_without_content_length_is_refused_with_411(client, local_store):
    upload_id = local_store.multipart_start("f")
    response = put_part(client, local_store.multipart_part_url("f", upload_id, 1), b"", CONTENT_LENGTH="")
    assert_refused(response, 411, "length_required")


def test_a_part_for_an_aborted_upload_answers_404(client, local_store):
    upload_id = local_store.multipart_start("f")
    url = local_store.multipart_part_url("f", upload_id, 1)
    local_store.multipart_abort("f", upload_id)
    assert_refused(put_part(client, url, b"late"), 404, "upload_not_found")


def test_an_expired_part_link_is_refused(client, local_store, monkeypatch):
    upload_id = local_store.multipart_start("f")
    url = local_store.multipart_part_url("f", upload_id, 1, expires=5)
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 10)
    assert_refused(put_part(client, url, b"late"), 403, "link_expired")
    assert local_store.multipart_list_parts("f", upload_id) == []


def test_tokens_are_verified_with_their_own_purpose():
    token = signing.issue(signing.GET, {"k": "x"}, 60)
    assert signing.verify(signing.GET, token)["k"] == "x"
    with pytest.raises(signing.LinkInvalid):
        signing.verify(signing.PART, token)


@pytest.mark.parametrize(("filename", "fallback", "utf8"), [
    ("report.pdf", "report.pdf", "report.pdf"),
    ("Ünïcödé.txt", "Unicode.txt", "%C3%9Cn%C3%AFc%C3%B6d%C3%A9.txt"),
    ("📄", "download", "%F0%9F%93%84"),
    ("../../etc/passwd", ".._.._etc_passwd", ".._.._etc_passwd"),
    ("a\r\nSet-Cookie: x", "a__Set-Cookie: x", "a__Set-Cookie%3A%20x"),
    ('50% "off";.txt', "50_ _off__.txt", "50%25%20%22off%22%3B.txt"),
    ("", "download", "download"),
], ids=["ascii", "accents", "emoji", "path", "header-injection", "quotes", "empty"])
def test_content_disposition_always_names_the_file_safely(filename, fallback, utf8):
    assert content_disposition(filename) == f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{utf8}"
