"""A lock token is its owner's secret: PROPFIND lockdiscovery and the LOCK
answer show another user's lock (who, scope, timeout) but never its token;
the owner still sees their own."""

from __future__ import annotations

from lxml import etree

from portal.spaces.models import Membership
from tests.dav.support import LOCK_SHARED, NS, lock, propfind, token_of

LOCKDISCOVERY = (b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:lockdiscovery/></D:prop>'
                 b"</D:propfind>")


def _tokens(xml: bytes) -> list[str]:
    return [el.text for el in etree.fromstring(xml).iterfind(".//D:activelock/D:locktoken/D:href", NS)]


def _activelocks(xml: bytes) -> int:
    return len(etree.fromstring(xml).findall(".//D:activelock", NS))


def test_propfind_shows_another_users_lock_without_its_token(dav, team, bob, dav_user_of):
    Membership.objects.create(space=team, user=bob, role="editor")
    dav.put(dav.base + "/plan.odt", data=b"v1")
    token = token_of(lock(dav, dav.base + "/plan.odt"))
    bobs = dav_user_of(bob).session()
    for depth, url in (("0", dav.base + "/plan.odt"), ("1", dav.base + "/")):
        seen = propfind(bobs, url, depth=depth, body=LOCKDISCOVERY)
        assert seen.status_code == 207
        assert _activelocks(seen.content) == 1 and _tokens(seen.content) == []
        assert token not in seen.text
    own = propfind(dav, dav.base + "/plan.odt", depth="0", body=LOCKDISCOVERY)
    assert _tokens(own.content) == [token]
    allprop = propfind(bobs, dav.base + "/plan.odt", depth="0")
    assert allprop.status_code == 207 and token not in allprop.text


def test_a_shared_lock_answer_shows_only_the_callers_own_token(dav, team, bob, dav_user_of):
    Membership.objects.create(space=team, user=bob, role="editor")
    dav.put(dav.base + "/notes.txt", data=b"v1")
    alices = token_of(lock(dav, dav.base + "/notes.txt", body=LOCK_SHARED))
    answer = lock(dav_user_of(bob).session(), dav.base + "/notes.txt", body=LOCK_SHARED)
    bobs = token_of(answer)
    assert _activelocks(answer.content) == 2
    assert _tokens(answer.content) == [bobs] and alices not in answer.text
    refreshed = dav.request("LOCK", dav.base + "/notes.txt", headers={"If": f"(<{alices}>)", "Timeout": "Second-60"})
    assert refreshed.status_code == 200 and _tokens(refreshed.content) == [alices] and bobs not in refreshed.text
