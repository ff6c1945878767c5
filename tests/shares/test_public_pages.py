"""What a visitor gets at /s/{token}: the page, the bytes, the answers for
links that stopped working, and the headers on every one of them."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.audit.actions import Action
from portal.shares.models import ShareLink
from tests.helpers import assert_error, events
from tests.shares.conftest import CONTENT, body, row

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(signed_in, alice):
    return signed_in(alice)


def gone_state(response) -> str:
    assert response.status_code == 410, response.content
    return response.context["state"]


# --- switches and states -------------------------------------------------------------------

def test_the_owner_switches_a_link_off_and_on_again(owner, share, shared_file, visitor):
    link = share(shared_file["id"])
    assert owner.patch(f"/api/v1/shares/{link['id']}", {"enabled": False}, format="json").status_code == 200
    assert gone_state(visitor().get(f"/s/{link['token']}")) == "disabled"
    assert gone_state(visitor().get(f"/s/{link['token']}/download")) == "disabled"
    assert owner.patch(f"/api/v1/shares/{link['id']}", {"enabled": True}, format="json").status_code == 200
    assert visitor().get(f"/s/{link['token']}").status_code == 200


def test_the_managers_switch_is_independent_of_the_owners(signed_in, member_of, share, shared_file, visitor):
    eddie = member_of("editor", "eddie")
    editor, manager = signed_in(eddie), signed_in(member_of("manager", "maria"))
    link = share(shared_file["id"], as_user=eddie)
    page = f"/s/{link['token']}"
    off = manager.patch(f"/api/v1/shares/{link['id']}", {"manager_enabled": False}, format="json")
    assert off.status_code == 200 and off.json()["manager_enabled"] is False and off.json()["enabled"] is True
    assert gone_state(visitor().get(page)) == "disabled"
    # The owner's own switch cannot bring it back, and the manager's is not theirs to flip.
    assert editor.patch(f"/api/v1/shares/{link['id']}", {"enabled": True}, format="json").status_code == 200
    assert gone_state(visitor().get(page)) == "disabled"
    assert_error(editor.patch(f"/api/v1/shares/{link['id']}", {"manager_enabled": True}, format="json"), 403,
                 "not_manager")
    assert gone_state(visitor().get(page)) == "disabled"
    # Both must allow it: the manager on, the owner off, is still off.
    assert manager.patch(f"/api/v1/shares/{link['id']}", {"manager_enabled": True}, format="json").status_code == 200
    assert visitor().get(page).status_code == 200
    assert editor.patch(f"/api/v1/shares/{link['id']}", {"enabled": False}, format="json").status_code == 200
    assert gone_state(visitor().get(page)) == "disabled"
    assert row(link).manager_disabled_by is None


def test_a_revoked_link_answers_gone_everywhere(owner, share, shared_file, visitor):
    link = share(shared_file["id"])
    browser = visitor()
    assert browser.get(f"/s/{link['token']}").status_code == 200
    assert owner.delete(f"/api/v1/shares/{link['id']}").status_code == 204
    for path in ("", "/download", "/preview", "/zip"):
        answer = browser.get(f"/s/{link['token']}{path}")
        assert gone_state(answer) == "revoked"
        assert "Location" not in answer
        assert b"revoked" in answer.content


def test_a_download_refused_by_a_revocation_during_the_request_sends_nothing(monkeypatch, alice, share,
                                                                             shared_file, visitor):
    """The link was open when the request began; the revocation lands before
    the download is counted. No bytes (and on S3 no presigned URL) leave."""
    from django.core.signals import request_finished
    from django.db import close_old_connections

    from portal.shares import services, views

    link = share(shared_file["id"])
    serve = views.serve

    def revoked_meanwhile(request, plan):
        services.share_link_revoke(actor=alice, link_id=link["id"])
        return serve(request, plan)

    monkeypatch.setattr(views, "serve", revoked_meanwhile)
    # The refused response's close() announces the end of the request; keep
    # that from closing the test's own connection, as the test client does.
    request_finished.disconnect(close_old_connections)
    try:
        answer = visitor().get(f"/s/{link['token']}/download")
    finally:
        request_finished.connect(close_old_connections)
    assert gone_state(answer) == "revoked"
    assert CONTENT not in answer.content and not answer.streaming
    assert row(link).download_count == 0


def test_an_unknown_or_mangled_token_is_not_found(share, shared_file, visitor):
    link = share(shared_file["id"])
    wrong_secret = link["token"][:16] + ("A" if link["token"][16] != "A" else "B") + link["token"][17:]
    for token in ("0123456789abcdef" + "x" * 32, wrong_secret, link["token"][:-1], "nope"):
        assert visitor().get(f"/s/{token}").status_code == 404
        assert visitor().get(f"/s/{token}/download").status_code == 404


def test_an_expired_link_is_gone(share, shared_file, visitor):
    link = share(shared_file["id"])
    ShareLink.objects.filter(pk=link["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert gone_state(visitor().get(f"/s/{link['token']}")) == "expired"
    assert gone_state(visitor().get(f"/s/{link['token']}/download")) == "expired"


def test_a_link_to_a_file_in_the_trash_is_gone_until_it_is_restored(owner, share, shared_file, visitor):
    link = share(shared_file["id"])
    assert owner.delete(f"/api/v1/files/{shared_file['id']}").status_code == 200
    assert gone_state(visitor().get(f"/s/{link['token']}")) == "removed"
    assert gone_state(visitor().get(f"/s/{link['token']}/download")) == "removed"
    assert owner.post(f"/api/v1/trash/{shared_file['id']}/restore").status_code in (200, 201)
    assert visitor().get(f"/s/{link['token']}").status_code == 200


def test_a_link_to_a_file_whose_folder_is_in_the_trash_is_gone(owner, team, share, shared_file, visitor):
    from portal.files.selectors import node_at

    link = share(shared_file["id"])
    reports = node_at(team, ["Reports"])[0]
    assert owner.delete(f"/api/v1/files/{reports.id}").status_code == 200
    assert gone_state(visitor().get(f"/s/{link['token']}")) == "removed"
    assert gone_state(visitor().get(f"/s/{link['token']}/download")) == "removed"


def test_a_link_stops_when_its_owner_loses_access(member_of, share, shared_file, visitor):
    from portal.spaces.models import Membership

    eddie = member_of("editor", "eddie")
    link = share(shared_file["id"], as_user=eddie)
    Membership.objects.filter(user=eddie).delete()
    assert gone_state(visitor().get(f"/s/{link['token']}/download")) == "disabled"


# --- headers ----------------------------------------------------------------------------------

HARDENED = {"Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY"}


def assert_hardened(response):
    for header, value in HARDENED.items():
        assert response[header] == value, (header, response.status_code)
    assert "default-src 'none'" in response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


def test_every_answer_of_a_link_carries_the_hardening_headers(owner, share, shared_file, shared_folder, visitor):
    folder, _ = shared_folder
    file_link = share(shared_file["id"])
    folder_link = share(folder.id)
    preview_link = share(shared_file["id"], permission="preview")
    internal = share(shared_file["id"], audience="internal")
    protected = share(shared_file["id"], password="correct horse battery")
    revoked = share(shared_file["id"])
    owner.delete(f"/api/v1/shares/{revoked['id']}")
    answers = {
        "page": visitor().get(f"/s/{file_link['token']}"),
        "download": visitor().get(f"/s/{file_link['token']}/download"),
        "ranged download": visitor().get(f"/s/{file_link['token']}/download", HTTP_RANGE="bytes=5-"),
        "zip": visitor().get(f"/s/{folder_link['token']}/zip"),
        "folder page": visitor().get(f"/s/{folder_link['token']}/f/sub"),
        "no preview": visitor().get(f"/s/{file_link['token']}/preview"),
        "no download": visitor().get(f"/s/{preview_link['token']}/download"),
        "login redirect": visitor().get(f"/s/{internal['token']}"),
        "password form": visitor().get(f"/s/{protected['token']}"),
        "wrong password": visitor().post(f"/s/{protected['token']}", {"password": "nope"}),
        "locked bytes": visitor().get(f"/s/{protected['token']}/download"),
        "unknown": visitor().get("/s/0123456789abcdef" + "x" * 32),
        "gone": visitor().get(f"/s/{revoked['token']}"),
        "json error": visitor().get(f"/s/{revoked['token']}/download", HTTP_ACCEPT="application/json"),
        "not allowed": visitor().delete(f"/s/{file_link['token']}"),
    }
    expected = {"page": 200, "download": 200, "ranged download": 206, "zip": 200, "folder page": 200,
                "no preview": 415, "no download": 403, "login redirect": 302, "password form": 200,
                "wrong password": 403, "locked bytes": 403, "unknown": 404, "gone": 410, "json error": 410,
                "not allowed": 405}
    assert {name: answer.status_code for name, answer in answers.items()} == expected
    for answer in answers.values():
        assert_hardened(answer)
        if answer.streaming:
            body(answer)


def test_a_download_is_an_attachment_with_the_files_bytes(share, shared_file, visitor):
    link = share(shared_file["id"])
    answer = visitor().get(f"/s/{link['token']}/download")
    assert answer.status_code == 200
    assert answer["Content-Disposition"].startswith("attachment") and "q3.txt" in answer["Content-Disposition"]
    assert body(answer) == CONTENT


def test_a_json_client_gets_errors_in_the_api_shape(share, shared_file, visitor):
    link = share(shared_file["id"], permission="preview")
    assert_error(visitor().get(f"/s/{link['token']}/download", HTTP_ACCEPT="application/json"), 403, "no_download")


# --- preview-only links -------------------------------------------------------------------------

def test_a_preview_only_link_has_no_path_to_the_bytes(share, shared_file, shared_folder, visitor):
    folder, _ = shared_folder
    file_link = share(shared_file["id"], permission="preview")
    folder_link = share(folder.id, permission="preview")
    page = visitor().get(f"/s/{file_link['token']}")
    assert page.status_code == 200
    assert b"/download" not in page.content and b"quarterly numbers" in page.content  # the text preview
    listing = visitor().get(f"/s/{folder_link['token']}")
    assert listing.status_code == 200 and b"a.txt" in listing.content
    assert b"/download" not in listing.content and b"/zip" not in listing.content
    for path in (f"{file_link['token']}/download", f"{folder_link['token']}/zip",
                 f"{folder_link['token']}/download/a.txt", f"{folder_link['token']}/zip/sub"):
        answer = visitor().get(f"/s/{path}")
        assert answer.status_code == 403 and answer.context["code"] == "no_download"
    assert not events(Action.SHARE_DOWNLOADED)


# --- folder links -------------------------------------------------------------------------------

def test_a_folder_link_lists_browses_and_downloads_each_file(share, shared_folder, visitor):
    folder, files = shared_folder
    link = share(folder.id)
    browser = visitor()
    top = browser.get(f"/s/{link['token']}")
    assert top.status_code == 200
    assert b"a.txt" in top.content and b"sub" in top.content and b"Secret" not in top.content
    sub = browser.get(f"/s/{link['token']}/f/sub")
    assert sub.status_code == 200 and b"b.txt" in sub.content and b"a.txt" not in sub.content
    for path, data in files.items():
        answer = browser.get(f"/s/{link['token']}/download/{path}")
        assert answer.status_code == 200 and body(answer) == data
        assert answer["Content-Disposition"].startswith("attachment")


def test_a_folder_link_zip_holds_exactly_the_folders_contents(share, shared_folder, visitor):
    folder, files = shared_folder
    link = share(folder.id)
    answer = visitor().get(f"/s/{link['token']}/zip")
    assert answer.status_code == 200 and answer["Content-Type"] == "application/zip"
    assert answer["Content-Disposition"].startswith("attachment")
    archive = zipfile.ZipFile(io.BytesIO(body(answer)))
    contents = {info.filename: archive.read(info) for info in archive.infolist() if not info.is_dir()}
    assert contents == files
    sub = zipfile.ZipFile(io.BytesIO(body(visitor().get(f"/s/{link['token']}/zip/sub"))))
    assert {info.filename for info in sub.infolist()} == {"b.txt"}
    assert len(events(Action.SHARE_DOWNLOADED, target_id=str(link["id"]))) == 2


@pytest.mark.parametrize("path", [
    "f/../Secret.txt", "f/..", "download/../Secret.txt", "download/sub/../../Secret.txt", "download/Secret.txt",
    "zip/..", "f/./sub", "download/%2e%2e/Secret.txt", "download/..%2FSecret.txt", "preview/../Secret.txt",
    "download//Secret.txt", "f/nothing-here",
])
def test_paths_outside_the_shared_folder_are_not_found(share, shared_folder, visitor, path):
    folder, _ = shared_folder
    link = share(folder.id)
    answer = visitor().get(f"/s/{link['token']}/{path}")
    assert answer.status_code == 404, (path, answer.status_code)
    assert b"not for visitors" not in body(answer)


def test_a_file_link_has_nothing_below_it(share, shared_file, visitor):
    link = share(shared_file["id"])
    assert visitor().get(f"/s/{link['token']}/f/q3.txt").status_code == 404
    assert visitor().get(f"/s/{link['token']}/download/q3.txt").status_code == 404
