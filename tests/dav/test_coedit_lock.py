"""WebDAV while people co-edit a file in the browser: the lock is listed
(shared, one per editor) and a PUT gets 423, leaving their work alone."""

from __future__ import annotations

import pytest
import requests

from tests.support.coedit import connected, eventually, room_url, version_text

pytestmark = [pytest.mark.postgres]


def test_webdav_lists_the_coedit_lock_and_refuses_a_put_while_people_edit(coedit_server, notes, live_dav,
                                                                          dav_user_of, aio):
    bob = dav_user_of(notes.editor)
    url = live_dav.dav(f"/{notes.space.slug}/notes.md")
    alice = aio(connected(room_url(coedit_server, notes.owner, notes.node)))
    eventually(lambda: notes.node.locks.exists(), what="the coedit lock")
    found = requests.request("PROPFIND", url, auth=bob.auth, headers={"Depth": "0"},
                             data='<?xml version="1.0"?><propfind xmlns="DAV:"><prop><lockdiscovery/></prop></propfind>')
    assert found.status_code == 207 and "shared" in found.text, found.text
    put = requests.put(url, data=b"overwritten", auth=bob.auth)
    assert put.status_code == 423
    aio(alice.close())
    assert "overwritten" not in version_text(notes.node)
