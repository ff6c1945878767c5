"""CheckFileInfo, GetFile, PutFile, PutRelativeFile and RenameFile against the WOPI REST reference."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest

from portal.audit.models import AuditEvent
from portal.collab.wopi.selectors import modified_stamp
from portal.files.models import Node
from tests.collab.wopi.conftest import join, put, utf7

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def doc(alice, team):
    return put(alice, team, "Plans/report.docx", b"PK-original").node


def test_check_file_info_describes_the_file_and_what_the_user_may_do(client_for, alice, bob, team, doc):
    info = client_for(alice, doc).check_file_info().json()
    assert info["BaseFileName"] == "report.docx"
    assert info["Size"] == len(b"PK-original")
    assert info["Version"] == "1"
    assert info["UserId"] == str(alice.pk)
    assert info["UserCanWrite"] is True and info["ReadOnly"] is False
    assert info["SupportsLocks"] and info["SupportsGetLock"] and info["SupportsUpdate"] and info["SupportsRename"]
    assert info["SupportsExtendedLockLength"] is True
    assert info["LastModifiedTime"] == modified_stamp(doc)
    assert info["BreadcrumbFolderName"] == "Plans"
    join(team, alice, bob, "viewer")
    viewer = client_for(bob, doc).check_file_info().json()
    assert (viewer["UserCanWrite"], viewer["ReadOnly"], viewer["UserCanNotWriteRelative"]) == (False, True, True)


def test_check_file_info_gives_the_sha256_once_the_file_is_hashed(client_for, alice, doc):
    blob = doc.current_version.blob
    blob.sha256 = hashlib.sha256(b"PK-original").hexdigest()
    blob.save(update_fields=["sha256"])
    info = client_for(alice, doc).check_file_info().json()
    import base64
    assert base64.b64decode(info["SHA256"]) == hashlib.sha256(b"PK-original").digest()


def test_get_file_serves_the_bytes_with_the_version_and_is_audited(client_for, alice, doc):
    response = client_for(alice, doc).get_file()
    assert response.status_code == 200
    assert response.content == b"PK-original"
    assert response.headers["X-WOPI-ItemVersion"] == "1"
    assert AuditEvent.objects.filter(action="file.downloaded", target_id=str(doc.pk)).count() == 1


def test_get_file_over_the_expected_size_is_412(client_for, alice, doc):
    assert client_for(alice, doc).get_file(**{"X-WOPI-MaxExpectedSize": "3"}).status_code == 412


def test_put_file_with_the_lock_makes_a_new_version(client_for, alice, doc):
    office = client_for(alice, doc)
    office.lock("L1")
    response = office.put_file(b"PK-edited", "L1")
    assert response.status_code == 200, response.text
    assert response.headers["X-WOPI-ItemVersion"] == "2"
    doc.refresh_from_db()
    assert doc.current_version.number == 2
    assert response.json()["LastModifiedTime"] == modified_stamp(doc)
    assert office.get_file().content == b"PK-edited"
    assert AuditEvent.objects.filter(action="wopi.saved").count() == 1


def test_put_file_with_another_lock_string_is_a_mismatch(client_for, alice, doc):
    office = client_for(alice, doc)
    office.lock("L1")
    response = office.put_file(b"PK-edited", "L2")
    assert (response.status_code, response.headers["X-WOPI-Lock"]) == (409, "L1")
    doc.refresh_from_db()
    assert doc.current_version.number == 1


def test_put_file_on_an_unlocked_file_needs_it_to_be_empty(client_for, alice, team, doc):
    refused = client_for(alice, doc).put_file(b"PK-edited", None)
    assert (refused.status_code, refused.headers["X-WOPI-Lock"]) == (409, "")
    empty = put(alice, team, "new.docx", b"").node
    created = client_for(alice, empty).put_file(b"PK-first-content", None)
    assert created.status_code == 200, created.text
    empty.refresh_from_db()
    assert empty.current_version.size == len(b"PK-first-content")


def test_put_file_over_the_size_limit_is_413(client_for, alice, doc, settings):
    office = client_for(alice, doc)
    office.lock("L1")
    settings.MAX_FILE_SIZE = 10
    assert office.put_file(b"x" * 11, "L1").status_code == 413


def test_put_file_over_the_space_quota_is_413_and_changes_nothing(client_for, alice, team, doc):
    office = client_for(alice, doc)
    office.lock("L1")
    team.quota_bytes = team.used_bytes + 4
    team.save(update_fields=["quota_bytes"])
    assert office.put_file(b"PK-much-too-long", "L1").status_code == 413
    doc.refresh_from_db()
    assert doc.current_version.number == 1


def test_put_file_after_a_webdav_change_is_refused_as_changed_in_storage(client_for, alice, doc, dav):
    """Collabora sends the LastModifiedTime it saw; a WebDAV save in between must not be overwritten."""
    office = client_for(alice, doc)
    seen = office.check_file_info().json()["LastModifiedTime"]
    assert dav.put(f"{dav.base}/Plans/report.docx", data=b"PK-from-webdav").status_code in (200, 201, 204)
    office.lock("L1")
    response = office.put_file(b"PK-office", "L1", **{"X-COOL-WOPI-Timestamp": seen})
    assert response.status_code == 409
    assert response.json()["COOLStatusCode"] == 1010
    assert office.get_file().content == b"PK-from-webdav"
    fresh = office.check_file_info().json()["LastModifiedTime"]
    assert office.put_file(b"PK-office", "L1", **{"X-COOL-WOPI-Timestamp": fresh}).status_code == 200


def test_put_file_without_a_lock_after_a_webdav_change_is_a_mismatch(client_for, alice, team, dav):
    node = put(alice, team, "blank.docx", b"").node
    office = client_for(alice, node)
    assert dav.put(f"{dav.base}/blank.docx", data=b"PK-typed-in-webdav").status_code in (200, 201, 204)
    response = office.put_file(b"PK-office", None)
    assert (response.status_code, response.headers["X-WOPI-Lock"]) == (409, "")


def test_put_relative_with_a_suggested_extension_makes_a_unique_sibling(client_for, alice, team, doc):
    put(alice, team, "Plans/report.pdf", b"%PDF-old")
    office = client_for(alice, doc)
    response = office.put_relative(b"%PDF-new", **{"X-WOPI-SuggestedTarget": utf7(".pdf")})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["Name"] == "report (2).pdf"
    assert "/wopi/files/" in body["Url"] and "access_token=" in body["Url"]
    new = Node.objects.get(parent=doc.parent, name="report (2).pdf")
    assert new.current_version.size == len(b"%PDF-new")
    token = parse_qs(urlsplit(body["Url"]).query)["access_token"][0]
    assert client_for(alice, new, token=token).check_file_info().json()["BaseFileName"] == "report (2).pdf"
    assert client_for(alice, doc, token=token).check_file_info().status_code == 401  # that file's token only


def test_put_relative_with_a_suggested_full_name(client_for, alice, doc):
    response = client_for(alice, doc).put_relative(b"PK", **{"X-WOPI-SuggestedTarget": utf7("Übersicht.docx")})
    assert response.status_code == 200, response.text
    assert response.json()["Name"] == "Übersicht.docx"


def test_put_relative_to_a_taken_name_without_overwrite_is_409_with_a_valid_target(client_for, alice, team, doc):
    put(alice, team, "Plans/copy.docx", b"PK-copy")
    response = client_for(alice, doc).put_relative(b"PK-new", **{"X-WOPI-RelativeTarget": utf7("copy.docx")})
    assert response.status_code == 409
    assert response.headers["X-WOPI-ValidRelativeTarget"].encode().decode("utf-7") == "copy (2).docx"


def test_put_relative_overwrites_when_asked_unless_the_target_is_locked(client_for, alice, team, doc):
    target = put(alice, team, "Plans/copy.docx", b"PK-copy").node
    office = client_for(alice, doc)
    headers = {"X-WOPI-RelativeTarget": utf7("copy.docx"), "X-WOPI-OverwriteRelativeTarget": "true"}
    assert office.put_relative(b"PK-over", **headers).status_code == 200
    target.refresh_from_db()
    assert target.current_version.number == 2
    client_for(alice, target).lock("T1")
    locked = office.put_relative(b"PK-again", **headers)
    assert (locked.status_code, locked.headers["X-WOPI-Lock"]) == (409, "T1")


def test_put_relative_needs_exactly_one_target_header(client_for, alice, doc):
    office = client_for(alice, doc)
    both = office.put_relative(b"PK", **{"X-WOPI-RelativeTarget": "a.docx", "X-WOPI-SuggestedTarget": ".pdf"})
    assert both.status_code == 501
    assert office.put_relative(b"PK").status_code == 400
    assert office.put_relative(b"PK", **{"X-WOPI-RelativeTarget": utf7("bad/name.docx")}).status_code == 400


def test_rename_keeps_the_extension_and_answers_the_new_name(client_for, alice, doc):
    response = client_for(alice, doc).rename("final")
    assert response.status_code == 200, response.text
    assert response.json() == {"Name": "final"}
    doc.refresh_from_db()
    assert doc.name == "final.docx"


def test_rename_of_a_locked_file_needs_its_lock_string(client_for, alice, doc):
    office = client_for(alice, doc)
    office.lock("L1")
    wrong = office.rename("final", lock="L2")
    assert (wrong.status_code, wrong.headers["X-WOPI-Lock"]) == (409, "L1")
    assert office.rename("final", lock="L1").status_code == 200


def test_rename_to_an_invalid_name_is_400_with_the_reason(client_for, alice, doc):
    response = client_for(alice, doc).rename("a/b")
    assert response.status_code == 400
    assert response.headers["X-WOPI-InvalidFileNameError"]


def test_an_unknown_override_is_501(client_for, alice, doc):
    office = client_for(alice, doc)
    assert office.call("POST", "DELETE").status_code == 501
    assert office.call("POST", "LOCK", contents=True).status_code == 501


def test_an_unknown_override_without_a_valid_token_is_401_not_501(client, doc):
    for path in (f"/wopi/files/{doc.pk}", f"/wopi/files/{doc.pk}/contents"):
        response = client.post(f"{path}?access_token=bogus", HTTP_X_WOPI_OVERRIDE="DELETE")
        assert response.status_code == 401
