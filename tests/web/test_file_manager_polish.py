"""The file manager's polish (issue 14, H) through Django's test client: the
Download of a multi-selection (one zip of the items, same access check and
audit as a folder's zip), lock and unlock from the row menu answering with the
list alone, the script words shipped translated in a JSON data block, and the
one confirmation dialog of every page."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest
from django.test import Client

from portal.audit.actions import Action
from portal.audit.models import AuditEvent
from portal.files.models import Node
from portal.files.services.direct import file_put
from portal.files.services.tree import folder_create, node_trash
from portal.spaces.services import member_add, space_create
from tests.web.live import page_client

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def _put(user, space, path: str, body: bytes = b"x") -> Node:
    return file_put(actor=user, space_id=space.pk, path=path, fileobj=io.BytesIO(body), size=len(body)).node


@pytest.fixture
def team(alice, bob):
    space = space_create(actor=alice, name="Team")
    member_add(actor=alice, space_id=space.pk, username="bob", role="viewer")
    return space


def _zip(client, space, ids):
    return client.get(f"/spaces/{space.pk}/zip", {"ids": [str(i) for i in ids]})


def test_a_selection_downloads_as_one_zip_of_those_items_and_is_audited(alice, bob, team):
    notes = _put(alice, team, "/notes.txt", b"notes")
    _put(alice, team, "/left-out.txt", b"not selected")
    docs = folder_create(actor=alice, space_id=team.pk, path="/Docs")[0].node
    _put(alice, team, "/Docs/a.txt", b"aaa")
    _put(alice, team, "/Docs/Sub/b.txt", b"bb")
    answer = _zip(page_client(bob), team, [notes.pk, docs.pk, notes.pk])  # a viewer may read: download
    assert answer.status_code == 200
    assert answer["Content-Type"] == "application/zip"
    body = b"".join(answer.streaming_content)
    assert int(answer["Content-Length"]) == len(body)
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert sorted(archive.namelist()) == ["Docs/", "Docs/Sub/", "Docs/Sub/b.txt", "Docs/a.txt", "notes.txt"]
    assert archive.read("Docs/Sub/b.txt") == b"bb" and archive.read("notes.txt") == b"notes"
    event = AuditEvent.objects.filter(action=Action.FILE_ZIP_DOWNLOADED).latest("id")
    assert event.actor_id == bob.pk and event.details["files"] == 3
    assert event.details["selected"] == [notes.pk, docs.pk]


def test_a_selection_zip_is_404_for_outsiders_and_for_items_in_the_trash(alice, team, make_user):
    notes = _put(alice, team, "/notes.txt")
    outsider = make_user(username="mallory")
    assert _zip(page_client(outsider), team, [notes.pk]).status_code == 404
    assert _zip(Client(), team, [notes.pk]).status_code in {302, 401}
    gone = _put(alice, team, "/gone.txt")
    node_trash(actor=alice, node_id=gone.pk)
    assert _zip(page_client(alice), team, [notes.pk, gone.pk]).status_code == 404
    assert not AuditEvent.objects.filter(action=Action.FILE_ZIP_DOWNLOADED).exists()


def test_a_selection_zip_refuses_bad_input(alice, team):
    client = page_client(alice)
    notes = _put(alice, team, "/notes.txt")
    deep = _put(alice, team, "/Docs/deep.txt")
    other = space_create(actor=alice, name="Other")
    elsewhere = _put(alice, other, "/elsewhere.txt")
    assert _zip(client, team, []).status_code == 400
    assert _zip(client, team, ["x"]).status_code == 400
    assert _zip(client, team, [notes.pk, deep.pk]).status_code == 400  # two folders' items
    assert _zip(client, team, [elsewhere.pk]).status_code == 400  # another space's item
    assert client.post(f"/spaces/{team.pk}/zip", {"ids": [notes.pk]}).status_code == 405
    assert not AuditEvent.objects.filter(action=Action.FILE_ZIP_DOWNLOADED).exists()


def test_lock_and_unlock_from_the_list_answer_with_the_list_its_badge_and_a_toast(alice, team):
    client = page_client(alice)
    notes = _put(alice, team, "/notes.txt")
    locked = client.post(f"/spaces/{team.pk}/items/{notes.pk}/lock", {"hours": "8", "path": "/"}, **HTMX)
    assert locked.status_code == 200
    html = locked.content.decode()
    assert "item-panel" not in html  # the drawer stays closed
    assert re.search(r'data-lock="mine"', html) and "Locked by alice" in html
    assert "“notes.txt” is locked." in html and 'id="toast"' in html
    unlocked = client.post(f"/spaces/{team.pk}/items/{notes.pk}/unlock", {"path": "/"}, **HTMX)
    html = unlocked.content.decode()
    assert unlocked.status_code == 200 and "item-panel" not in html and "Locked by" not in html
    assert "“notes.txt” is unlocked." in html
    from_drawer = client.post(f"/spaces/{team.pk}/items/{notes.pk}/lock", {"drawer": "1"}, **HTMX)
    assert 'class="item-panel"' in from_drawer.content.decode()  # asked from the drawer: the drawer too


def test_lock_from_the_list_is_404_for_outsiders_and_refuses_folders(alice, bob, team, make_user):
    notes = _put(alice, team, "/notes.txt")
    folder = folder_create(actor=alice, space_id=team.pk, path="/Docs")[0].node
    outsider = page_client(make_user(username="mallory"))
    assert outsider.post(f"/spaces/{team.pk}/items/{notes.pk}/lock", {}, **HTMX).status_code == 404
    assert page_client(alice).post(f"/spaces/{team.pk}/items/{folder.pk}/lock", {}, **HTMX).status_code == 400
    assert page_client(alice).post(f"/spaces/{team.pk}/items/{notes.pk}/unlock", {}, **HTMX).status_code == 409


def _fm_strings(html: str) -> dict:
    found = re.search(r'<script id="fm-strings" type="application/json">(.*?)</script>', html, re.S)
    assert found, "the page ships its script words as a JSON data block"
    return json.loads(found.group(1))


def test_the_script_words_come_translated_from_the_server(alice, team):
    client = page_client(alice)
    strings = _fm_strings(client.get(f"/spaces/{team.pk}/").content.decode())
    assert strings["selectedOne"] == "1 item selected"
    assert strings["selectedMany"] == "%(count)s items selected"
    assert strings["starred"] == "“%(name)s” starred."
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    from django.utils import translation
    from django.utils.translation import gettext
    with translation.override("zh-hans"):
        expected = {key: gettext(value) for key, value in {"selectedMany": "%(count)s items selected",
                                                          "newName": "New name"}.items()}
    strings = _fm_strings(client.get(f"/spaces/{team.pk}/").content.decode())
    assert {key: strings[key] for key in expected} == expected


def test_every_page_has_one_confirmation_dialog(alice, team):
    client = page_client(alice)
    for url in [f"/spaces/{team.pk}/", f"/spaces/{team.pk}/settings/", "/links/"]:
        html = client.get(url).content.decode()
        assert html.count("<dialog id=\"confirm-dialog\"") == 1, url
        assert "fm-confirm-dialog" not in html
