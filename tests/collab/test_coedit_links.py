"""Share-link visitors in the co-editor: a link with edit permission lets its
visitors (past its password) type with the members; other links, locked
links and revoked links do not."""

from __future__ import annotations

import json
import re

import pytest
import websockets
from django.test import Client

from portal.collab.models import CoeditParticipant
from portal.files.models import FileVersion
from portal.shares.services import share_link_create, share_link_revoke
from tests.support.coedit import connected, eventually, room_url

pytestmark = [pytest.mark.postgres]


def editor_config(response) -> dict:
    assert response.status_code == 200, response.content[:500]
    found = re.search(r'<script id="coedit-config" type="application/json">(.*?)</script>', response.content.decode())
    return json.loads(found.group(1))


def link_room_url(server, config: dict) -> str:
    return f"{server.ws_url}/{config['room']}?ticket={config['ticket']}"


def test_an_edit_link_visitor_types_with_a_member_and_the_version_counts_the_link_owner(
        coedit_server, notes, aio, settings):
    settings.COEDIT_URL = coedit_server.ws_url
    link, token = share_link_create(actor=notes.owner, node_id=notes.node.pk, permission="edit")
    visitor = Client()
    page = visitor.get(f"/s/{token}")
    assert f"/s/{token}/edit" in page.content.decode()  # the link's page offers the editor
    response = visitor.get(f"/s/{token}/edit")
    config = editor_config(response)
    assert config["can_edit"] and config["user"]["name"] == "Guest"
    assert f"ws://127.0.0.1:{coedit_server.port}" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY" and response["Referrer-Policy"] == "no-referrer"
    guest = aio(connected(link_room_url(coedit_server, config)))
    bob = aio(connected(room_url(coedit_server, notes.editor, notes.node)))
    aio(guest.insert(0, "From outside: "))
    aio(bob.wait_for(lambda: bob.content.startswith("From outside: ")))
    aio(guest.close())
    aio(bob.close())
    eventually(lambda: notes.node.versions.count() == 2, what="the saved version")
    notes.node.refresh_from_db()
    version = FileVersion.objects.get(pk=notes.node.current_version_id)
    assert {user.username for user in version.coauthors.all()} == {"alice"}  # the link acts for its owner


@pytest.mark.parametrize("permission", ["download", "preview"])
def test_a_link_without_edit_permission_does_not_open_the_editor(notes, permission, transactional_db):
    link, token = share_link_create(actor=notes.owner, node_id=notes.node.pk, permission=permission)
    response = Client().get(f"/s/{token}/edit")
    assert response.status_code == 404
    assert f"/s/{token}/edit" not in Client().get(f"/s/{token}").content.decode()


def test_a_password_link_opens_the_editor_only_after_its_password(notes, transactional_db):
    link, token = share_link_create(actor=notes.owner, node_id=notes.node.pk, permission="edit",
                                    password="correct horse battery")
    visitor = Client()
    assert visitor.get(f"/s/{token}/edit").status_code == 403
    visitor.post(f"/s/{token}", {"password": "correct horse battery"})
    editor_config(visitor.get(f"/s/{token}/edit"))


def test_an_unknown_link_reads_not_found(transactional_db):
    assert Client().get("/s/nosuchtoken/edit").status_code == 404


def test_revoking_the_link_cuts_its_visitors_off_mid_session(coedit_server, notes, aio, settings):
    settings.COEDIT_URL = coedit_server.ws_url
    link, token = share_link_create(actor=notes.owner, node_id=notes.node.pk, permission="edit")
    config = editor_config(Client().get(f"/s/{token}/edit"))
    guest = aio(connected(link_room_url(coedit_server, config)))
    eventually(lambda: CoeditParticipant.objects.filter(link=link).exists(), what="the guest's join")
    share_link_revoke(actor=notes.owner, link_id=link.pk)
    assert aio(guest.wait_closed(timeout=30)) == 4403
    with pytest.raises(websockets.ConnectionClosed):
        aio(guest.insert(0, "too late "))
    eventually(lambda: not CoeditParticipant.objects.filter(link=link).exists(), what="the guest's leave")


def test_a_file_shared_with_a_colleague_personally_opens_read_only_with_the_reason(notes, make_user,
                                                                                  transactional_db):
    from portal.shares.services import internal_share_create

    dave = make_user(username="dave")
    internal_share_create(actor=notes.owner, node_id=notes.node.pk, user=dave, role="editor")
    visitor = Client()
    visitor.force_login(dave)
    config = editor_config(visitor.get(f"/spaces/{notes.space.pk}/items/{notes.node.pk}/edit"))
    assert not config["can_edit"] and "shared with you personally" in config["readonly_reason"]
