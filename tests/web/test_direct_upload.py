"""PUT /spaces/<id>/upload: the file browser's one-request upload of a file
that fits in one part (portal/web/uploads.py), through Django's test client."""

from __future__ import annotations

import io
from urllib.parse import urlencode

import pytest
from django.test import Client

from portal.files.models import FileVersion, Node
from portal.files.services.direct import file_put
from portal.locks.services import lock_acquire
from portal.spaces.services import member_add, space_create
from tests.web.live import page_client

pytestmark = pytest.mark.django_db



def _put(client, space, path: str, body: bytes = b"hello", **extra):
    return client.generic("PUT", f"/spaces/{space.pk}/upload", body, content_type="text/plain",
                          QUERY_STRING=urlencode({"path": path}), **extra)


@pytest.fixture
def team(alice):
    return space_create(actor=alice, name="Team")


def test_a_member_puts_a_small_file_in_one_request_and_again_as_a_new_version(alice, team):
    client = page_client(alice)
    first = _put(client, team, "/Notes/today.txt", b"first")
    assert first.status_code == 201, first.content
    assert first.json()["version"] == 1 and first.json()["size"] == 5
    assert first["ETag"]
    node = Node.objects.get(space=team, name="today.txt")
    assert Node.objects.get(pk=node.parent_id).name == "Notes"
    second = _put(client, team, "/Notes/today.txt", b"second!")
    assert second.status_code == 201
    assert second.json() == {"id": node.pk, "name": "today.txt", "version": 2, "size": 7}
    assert second["ETag"] != first["ETag"]
    assert list(FileVersion.objects.filter(node=node).order_by("number").values_list("size", flat=True)) == [5, 7]


def test_an_empty_file_is_a_file(alice, team):
    response = _put(page_client(alice), team, "/empty.txt", b"", CONTENT_LENGTH="0")  # as a browser sends it
    assert response.status_code == 201
    assert Node.objects.get(space=team, name="empty.txt").size == 0


def test_an_outsider_gets_not_found_and_a_viewer_is_refused_and_nothing_is_stored(alice, bob, make_user, team):
    outsider = _put(page_client(bob), team, "/x.txt")
    assert outsider.status_code == 404
    assert outsider.json()["code"] == "not_found"
    carol = make_user(username="carol")
    member_add(actor=alice, space_id=team.pk, username="carol", role="viewer")
    viewer = _put(page_client(carol), team, "/x.txt")
    assert viewer.status_code == 403
    assert not Node.objects.filter(space=team, name="x.txt").exists()


def test_signed_out_it_answers_401_in_json_not_a_redirect_to_the_sign_in_page(team):
    response = _put(Client(), team, "/x.txt")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert not Node.objects.filter(space=team, name="x.txt").exists()


def test_without_the_csrf_token_a_signed_in_put_is_refused(alice, team):
    client = page_client(alice, enforce_csrf_checks=True)
    assert _put(client, team, "/x.txt").status_code == 403
    client.get(f"/spaces/{team.pk}/")  # the page sets the CSRF cookie the uploader sends back
    token = client.cookies["csrftoken"].value
    assert _put(client, team, "/x.txt", HTTP_X_CSRFTOKEN=token).status_code == 201


@pytest.mark.parametrize(("path", "length", "status", "code"), [
    ("", None, 400, "invalid_path"),
    ("relative.txt", None, 400, "invalid_path"),
    ("/", None, 400, "invalid_path"),
    ("/bad\u202etxt.exe", None, 400, None),
    ("/x.txt", "", 411, "length_required"),
    ("/x.txt", "²", 411, "length_required"),
    ("/x.txt", "-1", 411, "length_required"),
])
def test_bad_paths_and_lengths_are_refused_in_json(alice, team, path, length, status, code):
    extra = {} if length is None else {"CONTENT_LENGTH": length}
    response = _put(page_client(alice), team, path, b"hello", **extra)
    assert response.status_code == status, response.content
    if code:
        assert response.json()["code"] == code
    assert response.json()["message"]
    assert not Node.objects.filter(space=team, kind="file").exists()


def test_a_file_larger_than_one_part_is_sent_to_the_resumable_upload(alice, team, settings):
    settings.UPLOAD_PART_SIZE = 8
    assert _put(page_client(alice), team, "/eight.txt", b"12345678").status_code == 201
    response = _put(page_client(alice), team, "/nine.txt", b"123456789")
    assert response.status_code == 413
    assert response.json()["code"] == "file_too_large"
    assert response.json()["detail"] == {"max_size": 8}
    assert not Node.objects.filter(space=team, name="nine.txt").exists()


def test_with_s3_only_files_up_to_one_mib_come_through_the_portal(alice, team, settings):
    """With the S3 store a larger file's bytes go straight to the store, so the
    one-request path refuses them (before any byte is stored) and the page
    sends them as a resumable upload; the page is told the same limit."""
    settings.STORAGE_BACKEND = "s3"
    response = _put(page_client(alice), team, "/big.bin", b"x" * (1024 * 1024 + 1))
    assert response.status_code == 413 and response.json()["detail"] == {"max_size": 1024 * 1024}
    assert not Node.objects.filter(space=team, name="big.bin").exists()
    settings.STORAGE_BACKEND = "local"
    page = page_client(alice).get(f"/spaces/{team.pk}/")
    assert f'data-direct-max="{settings.UPLOAD_PART_SIZE}"' in page.content.decode()


def test_only_put_is_answered(alice, team):
    client = page_client(alice)
    assert client.get(f"/spaces/{team.pk}/upload?path=/x.txt").status_code == 405
    assert client.post(f"/spaces/{team.pk}/upload?path=/x.txt", b"x", content_type="text/plain").status_code == 405


def test_a_file_locked_by_someone_else_is_refused_with_the_holder_named(alice, bob, team):
    member_add(actor=alice, space_id=team.pk, username="bob", role="editor")
    node = file_put(actor=alice, space_id=team.pk, path="/draft.txt", fileobj=io.BytesIO(b"v1"), size=2).node
    lock_acquire(actor=alice, node=node)
    response = _put(page_client(bob), team, "/draft.txt", b"bob's")
    assert response.status_code == 423
    assert "locked by alice" in response.json()["message"]
    assert FileVersion.objects.filter(node=node).count() == 1


def test_the_refusals_are_in_the_visitors_language(alice, team):
    client = page_client(alice)
    no_length = _put(client, team, "/x.txt", CONTENT_LENGTH="", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    assert no_length.json()["message"] == "请在请求中附带 Content-Length 头发送文件。"
    relative = _put(client, team, "x.txt", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    assert relative.json()["message"] == "路径必须以 / 开头。"
    signed_out = _put(Client(), team, "/x.txt", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    assert signed_out.json()["message"] == "请重新登录，然后重试上传。"
