"""The resumable upload contract over HTTP, on both backends: parts go to the
URLs the portal hands out (SeaweedFS's presigned URLs, or the portal's own
signed URLs on a live server) with a plain HTTP client, as the agent does."""

from __future__ import annotations

import hashlib
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from django.utils import timezone
from rest_framework.test import APIClient

from portal.audit.actions import Action
from portal.files.models import FileVersion, Node, NodeKind, UploadSession
from portal.files.services import maintenance
from portal.files.services.tree import folder_create, node_trash, trash_purge
from portal.spaces.models import Space
from portal.storage import LocalObjectStore, UploadNotFound, get_store
from tests.files.support_s3 import MiB, chunk, put_part, use_local, use_s3
from tests.helpers import assert_error, events, last_event

# The local backend's part URLs are served by a live server, which needs a transactional database.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(params=["local", "s3"])
def backend(request, settings, tmp_path):
    """The portal on one backend, with 5 MiB parts (the store's minimum) to keep files small."""
    settings.UPLOAD_PART_SIZE = 5 * MiB
    if request.param == "local":
        return use_local(settings, tmp_path / "objects", request.getfixturevalue("live_server").url)
    return use_s3(settings, request.getfixturevalue("seaweed"))


@pytest.fixture
def client(api, alice):
    return api.as_user(alice)


def start(client, space, path: str, data: bytes, **extra) -> dict:
    response = client.post("/api/v1/uploads", {"space": space.id, "path": path, "size": len(data), **extra},
                           format="json")
    assert response.status_code == 201, response.content
    return response.json()


def send(upload: dict, data: bytes, numbers=None) -> None:
    """PUT the listed parts (default: every part the answer has a URL for)."""
    for part in upload["parts"]:
        if numbers is None or part["number"] in numbers:
            put_part(part["url"], chunk(data, part, upload["part_size"]))


def status(client, upload_id, query: str = "") -> dict:
    response = client.get(f"/api/v1/uploads/{upload_id}{query}")
    assert response.status_code == 200, response.content
    return response.json()


def complete(client, upload_id, etags: dict[int, str] | None = None):
    body = {"parts": [{"number": n, "etag": tag} for n, tag in etags.items()]} if etags else None
    return client.post(f"/api/v1/uploads/{upload_id}/complete", body, format="json")


def stored(node_id: int) -> bytes:
    version = Node.objects.select_related("current_version__blob").get(pk=node_id).current_version
    with get_store().open(version.blob.key) as stream:
        return stream.read()


def files_in(space) -> list[Node]:
    return list(Node.objects.filter(space=space, kind=NodeKind.FILE))


def used_bytes(space) -> int:
    return Space.objects.values_list("used_bytes", flat=True).get(pk=space.pk)


def store_is_empty(store) -> bool:
    """No object and no multipart upload anywhere in the (test's own) bucket or folder."""
    if isinstance(store, LocalObjectStore):
        return not list(store.iter_objects("")) and not any((store.root / ".multipart").iterdir())
    return (not store.client.list_objects_v2(Bucket=store.bucket).get("Contents")
            and not store.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads"))


# --- the whole flow ------------------------------------------------------------------------------
def test_parts_sent_in_reverse_order_and_in_parallel_become_one_file_version(client, team, backend):
    data = os.urandom(15 * MiB + 4321)
    upload = start(client, team, "/reports/q3.bin", data, sha256=hashlib.sha256(data).hexdigest())
    assert upload["part_size"] == 5 * MiB and upload["part_count"] == 4
    assert [p["number"] for p in upload["parts"]] == [1, 2, 3, 4]
    assert [p["size"] for p in upload["parts"]] == [5 * MiB] * 3 + [4321]
    assert upload["received"] == [] and upload["state"] == "open"

    with ThreadPoolExecutor(max_workers=4) as pool:
        etags = list(pool.map(lambda p: put_part(p["url"], chunk(data, p, upload["part_size"])),
                              reversed(upload["parts"])))
    assert len(set(etags)) == 4

    arrived = status(client, upload["id"])
    assert arrived["received"] == [1, 2, 3, 4] and arrived["wrong_size"] == [] and arrived["parts"] == []
    done = complete(client, upload["id"])
    assert done.status_code == 201, done.content
    meta = done.json()
    assert (meta["path"], meta["name"], meta["size"], meta["version"]) == ("/reports/q3.bin", "q3.bin", len(data), 1)
    assert stored(meta["id"]) == data
    assert used_bytes(team) == len(data)
    assert UploadSession.objects.get(pk=upload["id"]).state == "completed"
    event = last_event(Action.FILE_UPLOADED, space=team)
    assert event.details == {"version": 1, "size": len(data)}


def test_an_interrupted_upload_resumes_with_the_parts_that_arrived(client, team, backend):
    data = os.urandom(10 * MiB + 99)
    upload = start(client, team, "/resume.bin", data)
    send(upload, data, numbers={2})

    resumed = status(client, upload["id"])
    assert resumed["received"] == [2] and resumed["wrong_size"] == []
    assert [p["number"] for p in resumed["parts"]] == [1, 3]  # fresh URLs for exactly the missing ones
    send(resumed, data)

    assert status(client, upload["id"])["received"] == [1, 2, 3]
    done = complete(client, upload["id"])
    assert done.status_code == 201, done.content
    assert stored(done.json()["id"]) == data


def test_complete_with_missing_parts_lists_them_and_creates_nothing(client, team, backend):
    data = os.urandom(10 * MiB + 1)
    upload = start(client, team, "/docs/partial.bin", data)
    send(upload, data, numbers={1})

    body = assert_error(complete(client, upload["id"]), 400, "parts_missing")
    assert body["detail"] == {"missing": [2, 3], "wrong_size": []}
    assert not files_in(team) and not FileVersion.objects.exists()
    assert used_bytes(team) == 0
    assert UploadSession.objects.get(pk=upload["id"]).state == "open"
    assert status(client, upload["id"])["received"] == [1]  # still resumable


def test_parts_of_the_wrong_size_are_reported_and_block_complete_until_sent_again(client, team, backend):
    data = os.urandom(10 * MiB + 500)
    upload = start(client, team, "/sizes.bin", data)
    one, two, three = upload["parts"]
    put_part(one["url"], chunk(data, one, upload["part_size"])[:-1])        # one byte too small
    put_part(two["url"], chunk(data, two, upload["part_size"]))
    put_part(three["url"], chunk(data, three, upload["part_size"]) + b"!")  # one byte too big

    report = status(client, upload["id"])
    assert report["received"] == [2] and report["wrong_size"] == [1, 3]
    assert [p["number"] for p in report["parts"]] == [1, 3]
    body = assert_error(complete(client, upload["id"]), 400, "parts_missing")
    assert body["detail"] == {"missing": [1, 3], "wrong_size": [1, 3]}
    assert not FileVersion.objects.exists()

    send(report, data)  # the right bytes, to the fresh URLs
    fixed = status(client, upload["id"])
    assert fixed["received"] == [1, 2, 3] and fixed["wrong_size"] == []
    done = complete(client, upload["id"])
    assert done.status_code == 201, done.content
    assert stored(done.json()["id"]) == data


def test_a_part_sent_again_never_yields_the_earlier_bytes(client, team, backend):
    """A client may re-send a part (a retry, a changed file). The local store
    replaces it; SeaweedFS keeps both copies, so completing without ETags is
    refused as ambiguous instead of guessing — and with the ETag of the last
    PUT the file gets exactly those bytes."""
    for attempt in range(4):
        first, second = os.urandom(1000), os.urandom(1000)
        upload = start(client, team, f"/again-{attempt}.bin", second)
        put_part(upload["parts"][0]["url"], first)
        last_etag = put_part(upload["parts"][0]["url"], second)
        guessed = complete(client, upload["id"])
        if guessed.status_code == 201:
            assert stored(guessed.json()["id"]) == second, f"attempt {attempt}: the earlier part's bytes were kept"
            continue
        body = assert_error(guessed, 409, "ambiguous_parts")
        assert body["detail"] == {"ambiguous": [1]} and status(client, upload["id"])["ambiguous"] == [1]
        done = complete(client, upload["id"], {1: last_etag})
        assert done.status_code == 201, done.content
        assert stored(done.json()["id"]) == second


def test_a_complete_naming_an_etag_the_store_does_not_hold_is_refused(client, team, backend):
    data = os.urandom(1000)
    upload = start(client, team, "/etag.bin", data)
    send(upload, data)
    body = assert_error(complete(client, upload["id"], {1: '"0123456789abcdef0123456789abcdef"'}), 400,
                        "parts_missing")
    assert body["detail"]["missing"] == [1]
    assert complete(client, upload["id"]).status_code == 201


def test_specific_part_urls_can_be_asked_for_and_numbers_out_of_range_are_refused(client, team, backend):
    data = os.urandom(10 * MiB + 3)
    upload = start(client, team, "/ranges.bin", data)

    chosen = status(client, upload["id"], "?parts=3,1")
    assert [(p["number"], p["size"]) for p in chosen["parts"]] == [(3, 3), (1, 5 * MiB)]
    for query in ("?parts=0", "?parts=4", "?parts=1,99", "?parts=-1", "?parts=x", "?parts=1,,2"):
        assert_error(client.get(f"/api/v1/uploads/{upload['id']}{query}"), 400, "invalid_part")


# --- abort, expiry, idempotence -------------------------------------------------------------------
def test_abort_removes_the_parts_and_closes_the_upload_for_good(client, team, backend):
    data = os.urandom(5 * MiB + 10)
    upload = start(client, team, "/abort.bin", data)
    send(upload, data, numbers={1})
    session = UploadSession.objects.get(pk=upload["id"])
    assert [p.number for p in backend.multipart_list_parts(session.key, session.multipart_id)] == [1]

    assert client.delete(f"/api/v1/uploads/{upload['id']}").status_code == 204
    with pytest.raises(UploadNotFound):
        backend.multipart_list_parts(session.key, session.multipart_id)
    assert last_event(Action.UPLOAD_ABORTED, space=team).details == {"upload": upload["id"]}

    assert client.delete(f"/api/v1/uploads/{upload['id']}").status_code == 204  # harmless again
    assert len(events(Action.UPLOAD_ABORTED, space=team)) == 1
    assert_error(complete(client, upload["id"]), 409, "upload_closed")
    after = status(client, upload["id"])
    assert (after["state"], after["received"], after["parts"]) == ("aborted", [], [])
    two = upload["parts"][1]
    late = requests.put(two["url"], data=chunk(data, two, upload["part_size"]), timeout=60)
    assert late.status_code == 404  # a part sent after the abort is not stored
    assert not files_in(team) and not backend.exists(session.key)


def test_complete_after_the_expiry_sweep_is_refused(client, team, backend):
    data = os.urandom(5 * MiB + 10)
    upload = start(client, team, "/late.bin", data)
    send(upload, data)
    UploadSession.objects.filter(pk=upload["id"]).update(expires_at=timezone.now() - timedelta(minutes=1))

    assert maintenance.uploads_sweep() == {"aborted": 1, "orphaned": 0, "expired": 0, "released": 0}
    session = UploadSession.objects.get(pk=upload["id"])
    assert session.state == "expired"
    with pytest.raises(UploadNotFound):  # the sweep aborted the multipart upload in the store
        backend.multipart_list_parts(session.key, session.multipart_id)
    assert_error(complete(client, upload["id"]), 409, "upload_closed")
    assert not files_in(team) and used_bytes(team) == 0


def test_completing_twice_returns_the_same_version_and_charges_once(client, team, backend):
    data = os.urandom(5 * MiB + 10)
    upload = start(client, team, "/twice.bin", data)
    send(upload, data)

    first, second = complete(client, upload["id"]), complete(client, upload["id"])
    assert first.status_code == second.status_code == 201, (first.content, second.content)
    assert (second.json()["id"], second.json()["version"]) == (first.json()["id"], first.json()["version"]) \
        == (first.json()["id"], 1)
    assert FileVersion.objects.filter(node_id=first.json()["id"]).count() == 1
    assert used_bytes(team) == len(data)
    assert len(events(Action.FILE_UPLOADED, space=team)) == 1
    assert_error(client.delete(f"/api/v1/uploads/{upload['id']}"), 409, "upload_completed")


@pytest.mark.parametrize("gone", ["trashed", "purged"])
def test_completing_again_after_the_file_was_deleted_is_a_clean_error(client, team, alice, gone):
    upload = start(client, team, "/short-lived.txt", b"")
    node_id = complete(client, upload["id"]).json()["id"]
    node_trash(actor=alice, node_id=node_id)
    if gone == "purged":
        trash_purge(actor=alice, node_id=node_id)

    again = complete(client, upload["id"])
    assert again.status_code in (404, 409), again.content
    assert set(again.json()) == {"code", "message", "detail"}


def test_a_zero_byte_file_needs_no_parts(client, team, backend):
    upload = start(client, team, "/empty.txt", b"")
    assert (upload["part_count"], upload["parts"], upload["received"]) == (0, [], [])
    assert status(client, upload["id"])["parts"] == []

    done = complete(client, upload["id"])
    assert done.status_code == 201, done.content
    assert (done.json()["size"], done.json()["version"]) == (0, 1)
    assert stored(done.json()["id"]) == b""


# --- limits ------------------------------------------------------------------------------------------
def test_a_file_over_the_maximum_size_is_refused_with_413(client, team, backend, settings):
    settings.MAX_FILE_SIZE = 8 * MiB
    response = client.post("/api/v1/uploads", {"space": team.id, "path": "/big.bin", "size": 8 * MiB + 1},
                           format="json")
    assert assert_error(response, 413, "file_too_large")["detail"] == {"max_size": 8 * MiB}
    assert not UploadSession.objects.exists() and store_is_empty(backend)
    start(client, team, "/just-fits.bin", b"x" * (8 * MiB))  # the limit itself is allowed


def test_an_upload_over_the_quota_is_refused_at_start_and_stores_nothing(client, team, backend):
    Space.objects.filter(pk=team.pk).update(quota_bytes=6 * MiB)
    response = client.post("/api/v1/uploads", {"space": team.id, "path": "/too-much.bin", "size": 6 * MiB + 1},
                           format="json")
    body = assert_error(response, 507, "quota_exceeded")
    assert body["detail"] == {"quota": 6 * MiB, "used": 0, "needed": 6 * MiB + 1}
    assert not UploadSession.objects.exists() and store_is_empty(backend)


def test_an_upload_onto_a_folder_or_a_stale_version_is_refused_at_start(client, team, alice):
    folder_create(actor=alice, space_id=team.id, path="/reports")
    assert_error(client.post("/api/v1/uploads", {"space": team.id, "path": "/Reports", "size": 1}, format="json"),
                 409, "is_a_folder")
    complete(client, start(client, team, "/notes.txt", b"")["id"])
    stale = client.post("/api/v1/uploads", {"space": team.id, "path": "/notes.txt", "size": 1, "if_match": 2},
                        format="json")
    assert assert_error(stale, 409, "version_mismatch")["detail"] == {"current_version": 1}
    fresh = client.post("/api/v1/uploads", {"space": team.id, "path": "/new.txt", "size": 1, "if_match": 1},
                        format="json")
    assert assert_error(fresh, 409, "version_mismatch")["detail"] == {"current_version": None}
    assert UploadSession.objects.count() == 1


def test_an_upload_below_a_file_is_refused_before_any_byte_is_sent(client, team, backend):
    complete(client, start(client, team, "/plain.txt", b"")["id"])
    response = client.post("/api/v1/uploads", {"space": team.id, "path": "/plain.txt/inner.bin", "size": 100},
                           format="json")
    assert_error(response, 409, "not_a_folder")
    assert UploadSession.objects.count() == 1


def test_a_file_that_appears_where_a_folder_must_be_during_the_upload_is_refused_and_its_bytes_removed(
        client, team, backend):
    data = os.urandom(100)
    upload = start(client, team, "/later/inner.bin", data)
    send(upload, data)
    session = UploadSession.objects.get(pk=upload["id"])
    complete(client, start(client, team, "/later", b"")["id"])

    assert_error(complete(client, upload["id"]), 409, "not_a_folder")
    assert UploadSession.objects.get(pk=upload["id"]).state == "aborted"
    assert not backend.exists(session.key)
    assert [n.name for n in files_in(team)] == ["later"] and used_bytes(team) == 0


# --- bad input, roles, outsiders ------------------------------------------------------------------
LONG_NAME = "é" * 128  # 256 bytes of UTF-8


@pytest.mark.parametrize(("change", "code"), [
    ({"size": -1}, "invalid_input"),
    ({"size": "x"}, "invalid_input"),
    ({"size": 1.5}, "invalid_input"),
    ({"size": None}, "invalid_input"),
    ({"path": None}, "invalid_input"),
    ({"path": 7}, "invalid_input"),
    ({"path": "/"}, "invalid_path"),
    ({"path": ""}, "invalid_path"),
    ({"path": "/a/../etc/passwd"}, "invalid_name"),
    ({"path": "/./f.bin"}, "invalid_name"),
    ({"path": "/..\\..\\f.bin"}, "invalid_path"),
    ({"path": "/dir/f.bin."}, "invalid_name"),
    ({"path": "/dir /f.bin"}, "invalid_name"),
    ({"path": "/f\x00.bin"}, "invalid_input"),  # DRF refuses NUL before the name rules
    ({"path": "/f\x1b.bin"}, "invalid_name"),
    ({"path": "/" + LONG_NAME}, "invalid_name"),
    ({"path": "/a" * 65}, "invalid_path"),
    ({"sha256": "abc"}, "invalid_sha256"),
    ({"sha256": "g" * 64}, "invalid_sha256"),
    ({"sha256": 5}, "invalid_input"),
    ({"if_match": 0}, "invalid_input"),
    ({"space": "team"}, "invalid_input"),
    ({"owner": "me"}, "invalid_input"),
])
def test_bad_start_requests_are_refused_with_400(client, team, change, code):
    payload = {"space": team.id, "path": "/f.bin", "size": 10, **change}
    payload = {key: value for key, value in payload.items() if value is not None}
    assert_error(client.post("/api/v1/uploads", payload, format="json"), 400, code)
    assert not UploadSession.objects.exists()


def test_a_malformed_json_body_is_refused_with_400(client, team):
    response = client.post("/api/v1/uploads", '{"space": %d, "path": "/f.bin", "size": ' % team.id,
                           content_type="application/json")
    assert_error(response, 400, "malformed_request")
    assert not UploadSession.objects.exists()


def test_a_name_at_the_byte_limit_is_accepted(client, team):
    name = "é" * 127 + "x"  # 255 bytes
    assert start(client, team, "/" + name, b"")["path"] == "/" + name


def test_a_viewer_cannot_upload_into_the_space(team, member_of, api):
    response = api.as_user(member_of("viewer")).post("/api/v1/uploads", {"space": team.id, "path": "/f.bin", "size": 1},
                                     format="json")
    assert assert_error(response, 403, "forbidden")["detail"]["role"] == "viewer"
    assert not UploadSession.objects.exists()


def test_an_outsider_is_told_the_space_does_not_exist(team, bob, api):
    outsider = api.as_user(bob)
    for space_id in (team.id, team.id + 1000):
        response = outsider.post("/api/v1/uploads", {"space": space_id, "path": "/f.bin", "size": 1}, format="json")
        assert assert_error(response, 404, "not_found")["message"] == "No such space."
    assert not UploadSession.objects.exists()


def test_someone_elses_upload_is_not_found_even_for_a_fellow_editor(client, team, member_of):
    upload = start(client, team, "/mine.bin", b"")
    other = APIClient()
    other.force_authenticate(user=member_of("editor"))
    assert_error(other.get(f"/api/v1/uploads/{upload['id']}"), 404, "not_found")
    assert_error(other.post(f"/api/v1/uploads/{upload['id']}/complete"), 404, "not_found")
    assert_error(other.delete(f"/api/v1/uploads/{upload['id']}"), 404, "not_found")
    assert UploadSession.objects.get(pk=upload["id"]).state == "open"
    for unknown in (uuid.uuid4(), "not-a-uuid"):
        assert_error(client.get(f"/api/v1/uploads/{unknown}"), 404, "not_found")
        assert_error(client.post(f"/api/v1/uploads/{unknown}/complete"), 404, "not_found")
        assert_error(client.delete(f"/api/v1/uploads/{unknown}"), 404, "not_found")


def test_an_anonymous_caller_must_sign_in(api, team):
    response = api.post("/api/v1/uploads", {"space": team.id, "path": "/f.bin", "size": 1}, format="json")
    assert_error(response, 401, "not_authenticated")
