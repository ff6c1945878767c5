"""Capability first, then locks: a viewer who tries to change a file someone
else has locked is told 403 (not allowed), never 423 with the lock's holder,
over WebDAV, the API and the browser alike; an editor still gets 423."""

from __future__ import annotations

import pytest
from django.test import Client

from portal.locks.models import Lock
from portal.spaces.models import Membership
from tests.dav.support import lock, proppatch, token_of


@pytest.fixture
def locked(dav, team):
    """/f.txt locked by alice over WebDAV, beside a folder /dir; the file's node id."""
    dav.put(dav.base + "/f.txt", data=b"v1")
    dav.request("MKCOL", dav.base + "/dir")
    token = token_of(lock(dav, dav.base + "/f.txt"))
    return Lock.objects.get(token=token).node_id


def _dav_attempts(session, base: str) -> dict[str, int]:
    url = base + "/f.txt"
    return {
        "PUT": session.put(url, data=b"x").status_code,
        "DELETE": session.delete(url).status_code,
        "MOVE": session.request("MOVE", url, headers={"Destination": base + "/g.txt"}).status_code,
        "MOVE onto": session.request("MOVE", base + "/dir", headers={"Destination": url}).status_code,
        "COPY onto": session.request("COPY", base + "/dir", headers={"Destination": url,
                                                                     "Overwrite": "T"}).status_code,
        "PROPPATCH": session.request("PROPPATCH", url, data=proppatch("a", "b")).status_code,
        "LOCK": lock(session, url).status_code,
    }


def test_a_viewer_gets_403_not_423_on_a_locked_file_over_webdav(locked, dav, team, bob, dav_user_of):
    Membership.objects.create(space=team, user=bob, role="viewer")
    answers = _dav_attempts(dav_user_of(bob).session(), dav.base)
    assert answers == dict.fromkeys(answers, 403)
    assert dav.get(dav.base + "/f.txt").content == b"v1"


def test_an_editor_still_gets_423_on_a_locked_file_over_webdav(locked, dav, team, bob, dav_user_of):
    Membership.objects.create(space=team, user=bob, role="editor")
    answers = _dav_attempts(dav_user_of(bob).session(), dav.base)
    assert answers["PUT"] == answers["DELETE"] == answers["PROPPATCH"] == answers["LOCK"] == 423
    assert answers["MOVE"] == 423


def test_a_viewer_gets_403_not_423_on_a_locked_file_in_the_api_and_the_browser(locked, team, bob, api):
    Membership.objects.create(space=team, user=bob, role="viewer")
    client = api.as_user(bob)
    answers = {
        "upload": client.post("/api/v1/uploads", {"space": team.pk, "path": "/f.txt", "size": 3}, format="json"),
        "rename": client.patch(f"/api/v1/files/{locked}", {"name": "h.txt"}, format="json"),
        "delete": client.delete(f"/api/v1/files/{locked}"),
        "lock": client.post(f"/api/v1/files/{locked}/lock", {}, format="json"),
        "move": client.post(f"/api/v1/files/{locked}/move", {"path": "/z.txt"}, format="json"),
        "restore": client.post(f"/api/v1/files/{locked}/versions/1/restore", {}, format="json"),
    }
    assert {k: v.status_code for k, v in answers.items()} == dict.fromkeys(answers, 403)
    assert all("alice" not in v.content.decode() for v in answers.values())  # nothing about the holder
    browser = Client()
    browser.force_login(bob)
    for action in ("rename", "delete", "move", "restore-version", "lock"):
        page = browser.post(f"/spaces/{team.pk}/items/{locked}/{action}",
                            {"name": "q", "number": 1, "destination": "/dir"})
        assert page.status_code == 403, action


def test_the_lock_check_itself_refuses_a_viewer_before_looking_at_locks(locked, team, bob):
    from portal.core.errors import Forbidden
    from portal.files.selectors import locate_node
    from portal.locks.selectors import ensure_writable

    Membership.objects.create(space=team, user=bob, role="viewer")
    with pytest.raises(Forbidden):
        ensure_writable(locate_node(bob, locked), actor=bob, operation="upload")
