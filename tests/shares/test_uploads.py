"""Uploads through links: a file drop that shows nothing and never
overwrites, and edit links that add versions (and respect locks)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from portal.audit.actions import Action
from portal.files.models import Node
from portal.files.selectors import child_named, node_at
from portal.scanning.tasks import scan_version
from tests.helpers import events, last_event
from tests.shares.conftest import CONTENT, body

pytestmark = pytest.mark.django_db


def sent(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def content_of(node: Node) -> bytes:
    from portal.storage import get_store

    node.refresh_from_db()
    with get_store().open(node.current_version.blob.key) as stream:
        return stream.read()


@pytest.fixture
def drop(share, shared_folder):
    folder, _ = shared_folder
    return share(folder.id, permission="upload"), folder


def test_a_drop_page_shows_nothing_of_the_folder(drop, visitor):
    link, _ = drop
    page = visitor().get(f"/s/{link['token']}")
    assert page.status_code == 200
    assert b'type="file"' in page.content
    assert b"a.txt" not in page.content and b"sub" not in page.content.replace(b"submit", b"")


def test_a_dropped_file_lands_in_the_shared_folder(drop, visitor):
    link, folder = drop
    answer = visitor().post(f"/s/{link['token']}/upload", {"file": sent("invoice.pdf", b"%PDF-1.4 invoice")})
    assert answer.status_code == 201, answer.content
    stored = child_named(folder, "invoice.pdf")
    assert stored is not None and content_of(stored) == b"%PDF-1.4 invoice"
    uploaded = last_event(Action.SHARE_UPLOADED, target_id=str(link["id"]))
    assert uploaded.ip == "203.0.113.7" and uploaded.details["name"] == "invoice.pdf"


def test_a_dropped_file_with_a_taken_name_is_kept_beside_it(drop, visitor, shared_folder):
    link, folder = drop
    _, files = shared_folder
    answer = visitor().post(f"/s/{link['token']}/upload", {"file": [sent("a.txt", b"first"), sent("a.txt", b"2nd")]},
                            HTTP_ACCEPT="application/json")
    assert answer.status_code == 201, answer.content
    assert answer.json() == {"received": 2, "files": [{"name": "a.txt", "size": 5}, {"name": "a.txt", "size": 3}]}
    assert content_of(child_named(folder, "a.txt")) == files["a.txt"]
    assert child_named(folder, "a.txt").current_version.number == 1
    assert content_of(child_named(folder, "a (2).txt")) == b"first"
    assert content_of(child_named(folder, "a (3).txt")) == b"2nd"


def test_a_drop_cannot_overwrite_or_reach_below_its_folder(drop, visitor, shared_folder):
    link, folder = drop
    _, files = shared_folder
    for path in ("a.txt", "sub", "sub/b.txt"):
        answer = visitor().post(f"/s/{link['token']}/upload/{path}", {"file": sent("x.txt", b"overwritten")})
        assert answer.status_code == 404, (path, answer.status_code)
    assert content_of(child_named(folder, "a.txt")) == files["a.txt"]
    assert content_of(node_at(folder.space, ["Project", "sub", "b.txt"])[0]) == files["sub/b.txt"]
    assert not events(Action.SHARE_UPLOADED)


def test_a_drop_visitor_can_neither_download_nor_browse(drop, visitor):
    link, _ = drop
    browser = visitor()
    for path, status in (("/download/a.txt", 403), ("/zip", 403), ("/f/sub", 404), ("/preview/a.txt", 404)):
        answer = browser.get(f"/s/{link['token']}{path}")
        assert answer.status_code == status, (path, answer.status_code)
        assert b"alpha" not in body(answer)


def test_a_drop_without_a_file_is_refused(drop, visitor):
    link, _ = drop
    assert visitor().post(f"/s/{link['token']}/upload", {}).status_code == 400


def test_links_that_only_show_cannot_upload(share, shared_file, shared_folder, visitor):
    folder, _ = shared_folder
    for link in (share(shared_file["id"]), share(folder.id, permission="preview")):
        answer = visitor().post(f"/s/{link['token']}/upload", {"file": sent("x.txt", b"x")})
        assert answer.status_code == 403
    assert child_named(folder, "x.txt") is None


def test_an_edit_link_on_a_file_uploads_a_new_version_of_it(share, shared_file, visitor):
    link = share(shared_file["id"], permission="edit")
    browser = visitor()
    assert b"Upload a new version" in browser.get(f"/s/{link['token']}").content
    answer = browser.post(f"/s/{link['token']}/upload", {"file": sent("whatever-name.txt", b"revised numbers")})
    assert answer.status_code == 201, answer.content
    node = Node.objects.get(pk=shared_file["id"])
    assert content_of(node) == b"revised numbers"
    assert node.current_version.number == 2 and node.name == "q3.txt"
    held = browser.get(f"/s/{link['token']}/download")   # uploads through links wait for their scan
    assert held.status_code == 403 and b"not been scanned yet" in held.content
    scan_version.apply(args=[node.current_version_id])
    assert body(browser.get(f"/s/{link['token']}/download")) == b"revised numbers"


def test_an_edit_link_cannot_write_a_file_someone_has_locked(alice, share, shared_file, visitor):
    from portal.locks.services import lock_acquire

    node = Node.objects.get(pk=shared_file["id"])
    lock_acquire(actor=alice, node=node, note="editing the totals")
    link = share(shared_file["id"], permission="edit")
    answer = visitor().post(f"/s/{link['token']}/upload", {"file": sent("q3.txt", b"clobbered")})
    assert answer.status_code == 423, answer.content
    assert content_of(node) == CONTENT and node.current_version.number == 1
    assert not events(Action.SHARE_UPLOADED)
    assert events(Action.LOCK_WRITE_REFUSED, target_id=str(node.pk))
