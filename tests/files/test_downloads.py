"""Downloads end to end: a file's content (streamed locally, redirected on S3)
and folders as streamed zips, on real PostgreSQL and SeaweedFS."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import uuid
import zipfile
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from portal.audit.actions import Action
from portal.core.errors import PortalError
from portal.files.models import FileVersion, Node
from portal.files.services.downloads import content_type_for, safe_member_part
from portal.files.services.maintenance import blob_hash
from portal.spaces.services import member_add, space_create
from portal.storage import get_store
from portal.storage.base import content_disposition
from tests.helpers import assert_error, events

pytestmark = pytest.mark.django_db
MiB = 1024 * 1024
REPORT = "Bericht März.pdf"


@pytest.fixture(autouse=True)
def local(settings, tmp_path):
    """The embedded store, in a folder of this test's own."""
    settings.STORAGE_BACKEND = "local"
    settings.STORAGE_ROOT = tmp_path / "objects"
    store = get_store()
    store.ensure_bucket()
    return store


@pytest.fixture(scope="module")
def s3_bucket_name() -> str:
    return f"coffer-downloads-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def s3(settings, seaweed, s3_bucket_name):
    """The portal configured for S3 on the session's SeaweedFS, with a bucket of this module's own."""
    settings.STORAGE_BACKEND = "s3"
    settings.S3_ENDPOINT = seaweed.endpoint_url
    settings.S3_BUCKET = s3_bucket_name
    settings.S3_REGION = seaweed.region
    settings.S3_ACCESS_KEY = seaweed.access_key
    settings.S3_SECRET_KEY = seaweed.secret_key
    settings.S3_ADDRESSING_STYLE = "path"
    store = get_store()
    store.ensure_bucket()
    return store


@pytest.fixture
def team(alice):
    return space_create(actor=alice, name="Team")


@pytest.fixture
def client(alice):
    """Alice's own client, so ``api.as_user(bob)`` in a test never signs her out."""
    signed_in = APIClient()
    signed_in.force_authenticate(user=alice)
    return signed_in


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _put_part(client, url: str, data: bytes) -> None:
    if url.startswith(django_settings.PUBLIC_URL + "/"):  # the embedded store's own URL
        parsed = urlparse(url)
        answer = client.generic("PUT", f"{parsed.path}?{parsed.query}", data,
                                content_type="application/octet-stream")
        assert answer.status_code == 200, answer.content
    else:
        answer = requests.put(url, data=data, timeout=60)
        assert answer.status_code == 200, answer.text


def upload(client, space, path: str, data: bytes) -> dict:
    """A file (or a new version of it) through the real upload API; its metadata."""
    started = client.post("/api/v1/uploads", {"space": space.id, "path": path, "size": len(data)}, format="json")
    assert started.status_code == 201, started.content
    session = started.json()
    for part in session["parts"]:
        start = (part["number"] - 1) * session["part_size"]
        _put_part(client, part["url"], data[start:start + part["size"]])
    done = client.post(f"/api/v1/uploads/{session['id']}/complete")
    assert done.status_code == 201, done.content
    return done.json()


def mkdir(client, space, path: str) -> dict:
    made = client.post(f"/api/v1/spaces/{space.id}/folders", {"path": path}, format="json")
    assert made.status_code in (200, 201), made.content
    return made.json()


def trash(client, node_id: int) -> None:
    assert client.delete(f"/api/v1/files/{node_id}").status_code == 200


def content_url(file_id: int, query: str = "") -> str:
    return f"/api/v1/files/{file_id}/content" + (f"?{query}" if query else "")


def downloads_of(file_id: int) -> list:
    return events(Action.FILE_DOWNLOADED, target_id=str(file_id))


@pytest.fixture
def report(client, team) -> tuple[dict, bytes]:
    data = os.urandom(MiB + 321)
    return upload(client, team, f"/docs/{REPORT}", data), data


# --- a file's content, embedded store ---------------------------------------------------

def test_a_member_gets_the_uploaded_bytes_streamed_with_safe_headers(client, report):
    meta, data = report
    response = client.get(content_url(meta["id"]))
    assert response.status_code == 200
    assert response.streaming
    assert body(response) == data
    assert response["Content-Length"] == str(len(data))
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == content_disposition(REPORT)
    assert response["Content-Disposition"] == (
        "attachment; filename=\"Bericht Marz.pdf\"; filename*=UTF-8''Bericht%20M%C3%A4rz.pdf")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"
    assert response["Accept-Ranges"] == "bytes"
    assert response["ETag"].startswith('"') and response["Last-Modified"]
    assert "Content-Security-Policy" not in response


def test_a_viewer_may_download_too(client, api, team, report, bob):
    member_add(actor=team.created_by, space_id=team.id, username=bob.username, role="viewer")
    meta, data = report
    assert body(api.as_user(bob).get(content_url(meta["id"]))) == data


def test_a_range_request_gets_exactly_that_slice_with_206(client, report):
    meta, data = report
    response = client.get(content_url(meta["id"]), HTTP_RANGE="bytes=1000-1999")
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 1000-1999/{len(data)}"
    assert response["Content-Length"] == "1000"
    assert body(response) == data[1000:2000]


def test_a_range_past_the_end_gets_416_with_the_size(client, report):
    meta, data = report
    response = client.get(content_url(meta["id"]), HTTP_RANGE=f"bytes={len(data)}-")
    assert_error(response, 416, "range_not_satisfiable")
    assert response["Content-Range"] == f"bytes */{len(data)}"
    assert downloads_of(meta["id"]) == []


def test_the_etag_is_the_content_hash_once_known_and_if_none_match_answers_304(client, report):
    meta, data = report
    blob_hash(FileVersion.objects.get(node_id=meta["id"]).blob_id)
    etag = f'"{hashlib.sha256(data).hexdigest()}"'
    assert client.get(content_url(meta["id"]))["ETag"] == etag
    unchanged = client.get(content_url(meta["id"]), HTTP_IF_NONE_MATCH=etag)
    assert unchanged.status_code == 304
    assert unchanged["ETag"] == etag and body(unchanged) == b""
    assert len(downloads_of(meta["id"])) == 1  # the 304 sent no download


def test_a_resumed_range_with_a_stale_if_range_gets_the_whole_new_file(client, report):
    meta, data = report
    blob_hash(FileVersion.objects.get(node_id=meta["id"]).blob_id)
    response = client.get(content_url(meta["id"]), HTTP_RANGE="bytes=100-", HTTP_IF_RANGE='"an-older-version"')
    assert response.status_code == 200
    assert body(response) == data
    fresh = client.get(content_url(meta["id"]), HTTP_RANGE="bytes=100-", HTTP_IF_RANGE=response["ETag"])
    assert fresh.status_code == 206 and body(fresh) == data[100:]


def test_inline_is_honoured_for_a_pdf_and_sandboxed(client, report):
    meta, data = report
    response = client.get(content_url(meta["id"], "inline=1"))
    assert response.status_code == 200
    assert response["Content-Disposition"] == content_disposition(REPORT, inline=True)
    assert response["Content-Disposition"].startswith("inline;")
    assert response["Content-Security-Policy"] == "sandbox"
    assert body(response) == data


@pytest.mark.parametrize(("name", "content_type"), [
    ("page.html", "text/html"), ("logo.svg", "image/svg+xml"), ("feed.xml", "application/xml"),
    ("app.js", "text/javascript"), ("blob.unknownext", "application/octet-stream"),
])
def test_inline_is_ignored_for_types_that_could_run_script(client, team, name, content_type):
    meta = upload(client, team, f"/{name}", b"<svg onload=alert(1)><script>alert(1)</script></svg>")
    response = client.get(content_url(meta["id"], "inline=1"))
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"].startswith("attachment;")
    assert "Content-Security-Policy" not in response


def test_inline_plain_text_says_its_charset(client, team):
    meta = upload(client, team, "/notes.txt", "grüße".encode())
    response = client.get(content_url(meta["id"], "inline=1"))
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Disposition"].startswith("inline;")


@pytest.mark.parametrize(("name", "content_type"), [
    ("photo.JPG", "image/jpeg"), ("backup.tar.gz", "application/gzip"), ("README", "application/octet-stream"),
])
def test_the_content_type_comes_from_the_name(name, content_type):
    assert content_type_for(name) == content_type


def test_an_old_version_is_served_when_asked_for(client, team, report):
    meta, first = report
    second = b"the second version"
    assert upload(client, team, f"/docs/{REPORT}", second)["version"] == 2
    assert body(client.get(content_url(meta["id"]))) == second
    assert body(client.get(content_url(meta["id"], "version=1"))) == first
    assert [e.details["version"] for e in downloads_of(meta["id"])] == [2, 1]


def test_each_download_start_is_audited_once_but_not_a_resumed_range_or_head(client, report):
    meta, data = report
    client.get(content_url(meta["id"]))
    (event,) = downloads_of(meta["id"])
    assert event.actor.username == "alice"
    assert event.target_label == f"/docs/{REPORT}"
    assert event.space_id == meta["space"]
    assert event.details == {"version": 1, "size": len(data)}
    assert client.get(content_url(meta["id"]), HTTP_RANGE="bytes=500000-").status_code == 206
    assert client.head(content_url(meta["id"])).status_code == 200
    assert len(downloads_of(meta["id"])) == 1
    assert client.get(content_url(meta["id"]), HTTP_RANGE="bytes=0-99").status_code == 206
    assert len(downloads_of(meta["id"])) == 2


def test_head_answers_the_headers_without_the_bytes(client, report):
    meta, data = report
    response = client.head(content_url(meta["id"]))
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(data))
    assert body(response) == b""


def test_an_outsider_gets_a_404_like_for_a_file_that_does_not_exist(api, bob, report):
    meta, _ = report
    assert_error(api.as_user(bob).get(content_url(meta["id"])), 404, "not_found")
    assert_error(api.as_user(bob).get(content_url(meta["id"] + 1000)), 404, "not_found")
    assert downloads_of(meta["id"]) == []


def test_an_outsider_cannot_tell_a_foreign_file_from_a_missing_one(api, bob, report):
    meta, _ = report
    outsider = api.as_user(bob).get(content_url(meta["id"])).json()
    missing = api.as_user(bob).get(content_url(meta["id"] + 1000)).json()
    assert outsider == missing


def test_nobody_signed_in_gets_no_bytes(report):
    meta, _ = report
    response = APIClient().get(content_url(meta["id"]))
    assert_error(response, 401, "not_authenticated")
    assert downloads_of(meta["id"]) == []


def test_a_trashed_file_is_not_found(client, report):
    meta, _ = report
    trash(client, meta["id"])
    assert_error(client.get(content_url(meta["id"])), 404, "not_found")


@pytest.mark.parametrize(("query", "status", "code"), [
    ("version=abc", 400, "invalid_version"),
    ("version=", 400, "invalid_version"),
    ("version=7", 404, "not_found"),
    ("inline=maybe", 400, "invalid_inline"),
])
def test_a_bad_version_or_flag_is_refused(client, report, query, status, code):
    meta, _ = report
    assert_error(client.get(content_url(meta["id"], query)), status, code)


def test_a_folder_has_no_content(client, team):
    folder = mkdir(client, team, "/docs")
    assert_error(client.get(content_url(folder["id"])), 400, "not_a_file")


def test_errors_are_json_even_when_the_client_accepts_only_the_file_type(client, team):
    folder = mkdir(client, team, "/docs")
    response = client.get(content_url(folder["id"]), HTTP_ACCEPT="application/pdf")
    assert_error(response, 400, "not_a_file")


# --- a file's content, S3 ------------------------------------------------------------------

def test_on_s3_the_content_is_a_redirect_to_a_short_lived_presigned_url(s3, seaweed, client, team):
    data = os.urandom(300_000)
    meta = upload(client, team, f"/docs/{REPORT}", data)
    response = client.get(content_url(meta["id"]))
    assert response.status_code == 302
    assert response["Cache-Control"] == "private, no-store"
    location = response["Location"]
    assert location.startswith(seaweed.endpoint_url + "/")
    assert int(parse_qs(urlparse(location).query)["X-Amz-Expires"][0]) <= 300
    fetched = requests.get(location, timeout=60)
    assert fetched.status_code == 200
    assert fetched.content == data
    assert fetched.headers["Content-Disposition"] == content_disposition(REPORT)
    assert "filename*=UTF-8''Bericht%20M%C3%A4rz.pdf" in fetched.headers["Content-Disposition"]
    assert fetched.headers["Content-Type"] == "application/pdf"
    assert len(downloads_of(meta["id"])) == 1


def test_on_s3_inline_is_honoured_only_for_safe_types(s3, client, team):
    pdf = upload(client, team, "/a.pdf", b"%PDF-1.4 not really")
    html = upload(client, team, "/a.html", b"<script>alert(1)</script>")
    shown = requests.get(client.get(content_url(pdf["id"], "inline=1"))["Location"], timeout=60)
    assert shown.headers["Content-Disposition"].startswith("inline;")
    kept = requests.get(client.get(content_url(html["id"], "inline=1"))["Location"], timeout=60)
    assert kept.headers["Content-Disposition"].startswith("attachment;")
    assert kept.content == b"<script>alert(1)</script>"


def test_on_s3_an_old_version_redirects_to_its_own_bytes(s3, client, team):
    meta = upload(client, team, "/notes.txt", b"one")
    upload(client, team, "/notes.txt", b"two")
    old = requests.get(client.get(content_url(meta["id"], "version=1"))["Location"], timeout=60)
    assert old.content == b"one"


def test_on_s3_a_range_request_gets_a_url_to_the_whole_object_so_it_is_audited(s3, client, team):
    meta = upload(client, team, "/big.bin", os.urandom(10_000))
    assert client.get(content_url(meta["id"]), HTTP_RANGE="bytes=5000-").status_code == 302
    assert len(downloads_of(meta["id"])) == 1


def test_on_s3_a_head_answers_headers_without_a_url_and_is_not_audited(s3, client, team):
    meta = upload(client, team, "/big.bin", os.urandom(10_000))
    head = client.head(content_url(meta["id"]))
    assert head.status_code == 200 and "Location" not in head and head["Content-Length"] == "10000"
    assert downloads_of(meta["id"]) == []


# --- folders as zips ---------------------------------------------------------------------

def zip_url(space, path: str = "") -> str:
    return f"/api/v1/spaces/{space.id}/zip" + (f"/{path}" if path else "")


def unzip(response) -> zipfile.ZipFile:
    data = body(response)
    assert response["Content-Length"] == str(len(data))
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    return archive


@pytest.fixture
def project(client, team) -> dict[str, bytes]:
    """A folder tree: nested and empty folders, an empty file, a non-ASCII
    name, and a trashed file and a trashed folder that must not appear."""
    files = {
        "/proj/a.txt": b"alpha",
        "/proj/sub/b.bin": os.urandom(200_000),
        "/proj/sub/deeper/c.txt": b"gamma",
        f"/proj/März/{REPORT}": os.urandom(50_000),
        "/proj/empty.txt": b"",
    }
    for path, data in files.items():
        upload(client, team, path, data)
    mkdir(client, team, "/proj/nothing here")
    trash(client, upload(client, team, "/proj/deleted.txt", b"gone")["id"])
    upload(client, team, "/proj/old/inside.txt", b"gone too")
    trash(client, client.get(f"/api/v1/spaces/{team.id}/tree/proj/old").json()["folder"]["id"])
    return files


EXPECTED_NAMES = {"a.txt", "empty.txt", "sub/", "sub/b.bin", "sub/deeper/", "sub/deeper/c.txt", "März/",
                  f"März/{REPORT}", "nothing here/"}


def assert_project_zip(response, files: dict[str, bytes]) -> None:
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == content_disposition("proj.zip")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"
    archive = unzip(response)
    assert set(archive.namelist()) == EXPECTED_NAMES
    for path, data in files.items():
        assert archive.read(path.removeprefix("/proj/")) == data
    assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_STORED}
    assert archive.getinfo("nothing here/").is_dir()


def test_a_folder_downloads_as_a_zip_of_its_live_tree(client, team, project):
    assert_project_zip(client.get(zip_url(team, "proj")), project)
    (event,) = events(Action.FILE_ZIP_DOWNLOADED)
    assert event.target_label == "/proj" and event.space_id == team.id
    assert event.details == {"files": len(project), "bytes": sum(len(d) for d in project.values())}


def test_members_come_folder_first_then_what_it_holds(client, team, project):
    names = unzip(client.get(zip_url(team, "proj"))).namelist()
    assert names.index("sub/") < names.index("sub/deeper/") < names.index("sub/deeper/c.txt")
    assert names.index("sub/") < names.index("sub/b.bin")


def test_the_whole_space_downloads_under_the_space_s_name(client, team, project):
    response = client.get(zip_url(team))
    assert response["Content-Disposition"] == content_disposition("Team.zip")
    archive = unzip(response)
    assert set(archive.namelist()) == {"proj/"} | {f"proj/{name}" for name in EXPECTED_NAMES}
    assert archive.read("proj/a.txt") == b"alpha"


def test_a_folder_past_the_zip_entry_limit_is_refused_with_413_and_nothing_is_audited(client, team, project,
                                                                                        settings):
    settings.ZIP_MAX_ENTRIES = len(EXPECTED_NAMES) - 1
    body_ = assert_error(client.get(zip_url(team, "proj")), 413, "zip_too_large")
    assert body_["detail"] == {"max_entries": len(EXPECTED_NAMES) - 1}
    assert_error(client.get(zip_url(team)), 413, "zip_too_large")   # the whole space holds one more
    assert events(Action.FILE_ZIP_DOWNLOADED) == []
    settings.ZIP_MAX_ENTRIES = len(EXPECTED_NAMES)
    assert_project_zip(client.get(zip_url(team, "proj")), project)
    assert_error(client.get(zip_url(team)), 413, "zip_too_large")


def test_an_empty_folder_is_an_empty_zip(client, team):
    mkdir(client, team, "/void")
    assert unzip(client.get(zip_url(team, "void"))).namelist() == []


def test_a_zip_on_s3_streams_through_the_portal(s3, client, team, project):
    assert_project_zip(client.get(zip_url(team, "proj")), project)


def test_head_of_a_zip_answers_its_size_without_auditing(client, team, project):
    size = int(client.head(zip_url(team, "proj"))["Content-Length"])
    assert size == len(body(client.get(zip_url(team, "proj"))))
    assert len(events(Action.FILE_ZIP_DOWNLOADED)) == 1


def test_an_object_missing_mid_zip_ends_the_stream_after_the_first_members(client, team, local, caplog):
    upload(client, team, "/f/1-first.txt", b"first member")
    doomed = upload(client, team, "/f/2-second.txt", b"second member")
    response = client.get(zip_url(team, "f"))
    assert response.status_code == 200
    # Objects are opened only when the stream reaches them: deleting one now still fails the stream.
    local.delete(Node.objects.get(pk=doomed["id"]).current_version.blob.key)
    received = b""
    with caplog.at_level(logging.ERROR), pytest.raises(PortalError):
        for chunk in response.streaming_content:
            received += chunk
    assert b"first member" in received
    assert "failed mid-stream" in caplog.text


def test_an_outsider_gets_the_same_404_for_a_zip_as_for_a_missing_space(api, bob, team, project):
    outsider = assert_error(api.as_user(bob).get(zip_url(team, "proj")), 404, "not_found")
    missing = assert_error(api.as_user(bob).get(f"/api/v1/spaces/{team.id + 1000}/zip/proj"), 404, "not_found")
    assert outsider == missing
    assert events(Action.FILE_ZIP_DOWNLOADED) == []


def test_a_zip_of_a_file_is_refused(client, team, project):
    assert_error(client.get(zip_url(team, "proj/a.txt")), 400, "not_a_folder")


@pytest.mark.parametrize(("path", "status", "code"), [
    ("nowhere", 404, "not_found"),
    ("proj/deleted.txt", 404, "not_found"),
    ("proj/old", 404, "not_found"),
    ("proj\\sub", 400, "invalid_path"),
    ("proj/..", 400, "invalid_name"),
])
def test_a_zip_of_a_missing_trashed_or_malformed_path_is_refused(client, team, project, path, status, code):
    assert_error(client.get(zip_url(team, path)), status, code)


@pytest.mark.parametrize(("name", "safe"), [
    ("report.pdf", "report.pdf"), ("..", "_"), (".", "_"), ("", "_"), ("a\\b", "a_b"), ("a/b", "a_b"),
    ("x\x00y\x1fz\x85", "x_y_z_"), ("März", "März"),
])
def test_zip_member_names_cannot_escape_the_folder(name, safe):
    assert safe_member_part(name) == safe
