"""Names that spoof or cannot sync are refused at every entry point of the
API and the browser: bidirectional-text controls (``invoice<RLO>gpj.exe``
displays as ``invoiceexe.jpg``), the characters Windows refuses, and the
device names Windows reserves. Names stored before the rule still resolve
and can be written to and renamed."""

from __future__ import annotations

import pytest
from django.test import Client

from portal.files.models import Node
from portal.files.selectors import space_root
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db

SPOOFING = {
    "right-to-left override": "invoice\u202egpj.exe",
    "left-to-right embedding": "a\u202ab.txt",
    "pop directional formatting": "a\u202cb.txt",
    "first strong isolate": "a\u2068b.txt",
    "pop directional isolate": "a\u2069b.txt",
    "right-to-left mark": "report\u200f.pdf",
    "left-to-right mark": "report\u200e.pdf",
    "arabic letter mark": "report\u061c.pdf",
    "zero-width space": "a\u200bb.txt",
    "word joiner": "a\u2060b.txt",
    "byte order mark": "\ufeffab.txt",
    "soft hyphen": "a\u00adb.txt",
    "line separator": "a\u2028b.txt",
    "colon": "Meeting 10:30.docx",
    "star": "a*b.txt",
    "question mark": "why?.txt",
    "double quote": 'say "hi".txt',
    "less than": "a<b.txt",
    "greater than": "a>b.txt",
    "pipe": "a|b.txt",
    "CON": "CON",
    "nul with an extension": "nul.txt",
    "COM1 in any case with two extensions": "Com1.tar.gz",
    "LPT9": "lpt9",
    "AUX with a space before the extension": "aux .txt",
    "PRN": "prn.docx",
    "COM superscript one": "COM\u00b9.txt",
}
ALLOWED = ["console.txt", "nullable.txt", "COM10.txt", "lpt.txt", "con-call notes.txt", "α–ω ✓.txt",
           "family \U0001f468\u200d\U0001f469\u200d\U0001f467.jpg"]   # a zero-width joiner is no bidi control


@pytest.fixture
def client(signed_in, alice):
    return signed_in(alice)


def live_names(space) -> list[str]:
    return sorted(Node.objects.filter(space=space, parent__isnull=False).values_list("name", flat=True))


def assert_refused(response, name: str) -> None:
    body = assert_error(response, 400, "invalid_name")
    assert repr(name) in body["message"] or name in body["message"]
    assert "\u202e" not in body["message"]   # the message itself shows the control escaped


@pytest.mark.parametrize("name", SPOOFING.values(), ids=SPOOFING.keys())
def test_an_upload_under_a_spoofing_or_reserved_name_is_refused(client, team, upload, name):
    assert_refused(upload.start(client, team, f"/docs/{name}", b"x"), name)
    assert live_names(team) == []


@pytest.mark.parametrize("name", SPOOFING.values(), ids=SPOOFING.keys())
def test_a_folder_under_a_spoofing_or_reserved_name_is_refused(client, team, name):
    assert_refused(client.post(f"/api/v1/spaces/{team.id}/folders", {"path": f"/{name}/inner"}, format="json"),
                   name)
    assert live_names(team) == []


@pytest.mark.parametrize("name", SPOOFING.values(), ids=SPOOFING.keys())
def test_renaming_moving_or_copying_to_a_spoofing_or_reserved_name_is_refused(client, team, upload, name):
    meta = upload(client, team, "/report.pdf", b"numbers")
    assert_refused(client.patch(f"/api/v1/files/{meta['id']}", {"name": name}, format="json"), name)
    assert_refused(client.post(f"/api/v1/files/{meta['id']}/move", {"path": f"/{name}"}, format="json"), name)
    assert_refused(client.post(f"/api/v1/files/{meta['id']}/copy", {"path": f"/{name}"}, format="json"), name)
    assert live_names(team) == ["report.pdf"]


@pytest.mark.parametrize("name", ["invoice\u202egpj.exe", "nul.txt", "a:b"])
def test_the_browser_refuses_spoofing_or_reserved_names_for_folders_and_renames(alice, team, upload, client, name):
    meta = upload(client, team, "/report.pdf", b"numbers")
    browser = Client()
    browser.force_login(alice)
    made = browser.post(f"/spaces/{team.pk}/folders", {"name": name, "path": "/"}, HTTP_HX_REQUEST="true")
    renamed = browser.post(f"/spaces/{team.pk}/items/{meta['id']}/rename", {"name": name}, HTTP_HX_REQUEST="true")
    assert made.status_code == 400 and renamed.status_code == 400
    assert "not a valid name" in made.content.decode() and "not a valid name" in renamed.content.decode()
    assert live_names(team) == ["report.pdf"]


@pytest.mark.parametrize("name", ALLOWED)
def test_ordinary_names_close_to_the_reserved_ones_are_accepted(client, team, upload, name):
    assert upload(client, team, f"/{name}", b"x")["name"] == name


def test_a_name_stored_before_the_rule_still_resolves_takes_new_versions_and_can_be_renamed(client, team, upload):
    meta = upload(client, team, "/Notes/Meeting 10-30.docx", b"v1")
    folder = Node.objects.get(space=team, name="Notes")
    Node.objects.filter(pk=folder.pk).update(name="Notes: 2024", name_key="notes: 2024")
    Node.objects.filter(pk=meta["id"]).update(name="Meeting 10:30.docx", name_key="meeting 10:30.docx")

    found = client.get(f"/api/v1/spaces/{team.id}/tree/Notes: 2024/Meeting 10:30.docx")
    assert found.status_code == 200 and found.json()["id"] == meta["id"]
    again = upload(client, team, "/Notes: 2024/Meeting 10:30.docx", b"v2")
    assert again["id"] == meta["id"] and again["version"] == 2
    beside = upload(client, team, "/Notes: 2024/agenda.txt", b"new file in an old folder")
    assert beside["path"] == "/Notes: 2024/agenda.txt"
    assert_refused(upload.start(client, team, "/Notes: 2024/new: name.txt", b"x"), "new: name.txt")

    moved = client.post(f"/api/v1/files/{meta['id']}/move", {"path": "/Meeting 10:30.docx"}, format="json")
    assert moved.status_code == 200 and moved.json()["path"] == "/Meeting 10:30.docx"   # its own name goes along
    renamed = client.patch(f"/api/v1/files/{meta['id']}", {"name": "Meeting 10-30.docx"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["name"] == "Meeting 10-30.docx"
    assert sorted(node.name for node in space_root(team).children.all()) == ["Meeting 10-30.docx", "Notes: 2024"]
