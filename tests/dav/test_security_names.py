"""WebDAV refuses names that spoof or cannot sync (bidi controls, characters
and device names Windows refuses) with 400, on a live server as a client
would send them; names stored before the rule stay readable and writable."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from portal.files.models import Node
from portal.files.selectors import space_root

NAMES = ["invoice\u202egpj.exe", "report\u200f.pdf", "nul.txt", "COM3", "Meeting 10:30.docx", "why?.txt",
         "a|b.txt"]


def url(dav, name: str) -> str:
    return dav.base + "/" + quote(name)


def names_in(team) -> list[str]:
    return sorted(Node.objects.filter(space=team, parent__isnull=False).values_list("name", flat=True))


@pytest.mark.parametrize("name", NAMES)
def test_put_mkcol_move_and_copy_to_a_spoofing_or_reserved_name_answer_400(dav, team, name):
    assert dav.put(dav.base + "/ok.txt", data=b"fine").status_code == 201
    assert dav.put(url(dav, name), data=b"x").status_code == 400
    assert dav.request("MKCOL", url(dav, name)).status_code == 400
    if "?" not in name:  # wsgidav decodes a Destination's %3F before cutting off a query: it names "why"
        for method in ("MOVE", "COPY"):
            answer = dav.request(method, dav.base + "/ok.txt", headers={"Destination": url(dav, name)})
            assert answer.status_code == 400, (method, answer.status_code)
    assert names_in(team) == ["ok.txt"]


def test_a_name_stored_before_the_rule_stays_readable_and_writable_over_webdav(dav, team):
    assert dav.put(dav.base + "/Meeting 10-30.docx", data=b"v1").status_code == 201
    Node.objects.filter(space=team, name="Meeting 10-30.docx").update(name="Meeting 10:30.docx",
                                                                      name_key="meeting 10:30.docx")
    assert dav.get(url(dav, "Meeting 10:30.docx")).content == b"v1"
    assert dav.put(url(dav, "Meeting 10:30.docx"), data=b"v2").status_code == 204
    assert dav.get(url(dav, "Meeting 10:30.docx")).content == b"v2"
    moved = dav.request("MOVE", url(dav, "Meeting 10:30.docx"),
                        headers={"Destination": url(dav, "Meeting 10-30.docx")})
    assert moved.status_code in (201, 204)
    assert [node.name for node in space_root(team).children.all()] == ["Meeting 10-30.docx"]
