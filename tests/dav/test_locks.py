"""WebDAV LOCK / UNLOCK on Coffer's one lock table: a WebDAV lock shows in
the portal and blocks API uploads; a portal lock makes a WebDAV PUT fail."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from lxml import etree

from portal.locks.models import Lock, LockKind
from portal.locks.services import lock_acquire
from tests.dav.support import LOCK_SHARED, NS, if_token, lock, node_in, propfind, token_of


def file_node(space, name: str):
    return node_in(space, [name])


def test_a_webdav_lock_is_a_coffer_editor_lock_that_blocks_api_uploads(dav, team, alice, api):
    dav.put(dav.base + "/plan.odt", data=b"v1")
    token = token_of(lock(dav, dav.base + "/plan.odt"))
    held = Lock.objects.get(token=token)
    assert (held.kind, held.owner, held.node.name, held.note) == (LockKind.EDITOR, alice, "plan.odt",
                                                                  "LibreOffice test")
    shown = api.as_user(alice).get(f"/api/v1/files/{held.node_id}")
    assert shown.status_code == 200 and shown.json()["lock"]["kind"] == "editor"
    started = api.as_user(alice).post("/api/v1/uploads", {"space": team.pk, "path": "/plan.odt", "size": 3},
                                      format="json")
    assert started.status_code == 423  # an editor lock needs its token, even for its owner
    assert dav.put(dav.base + "/plan.odt", data=b"v2").status_code == 423
    assert dav.put(dav.base + "/plan.odt", data=b"v2", headers=if_token(token)).status_code == 204
    assert dav.request("UNLOCK", dav.base + "/plan.odt", headers={"Lock-Token": f"<{token}>"}).status_code == 204
    assert not Lock.objects.filter(token=token).exists()


def test_a_lock_taken_in_the_portal_makes_a_webdav_put_fail_with_423(dav, team, bob, dav_user_of, live_dav):
    from portal.spaces.models import Membership

    Membership.objects.create(space=team, user=bob, role="editor")
    dav.put(dav.base + "/contract.docx", data=b"v1")
    lock_acquire(actor=bob, node=file_node(team, "contract.docx"), note="signing")
    assert dav.put(dav.base + "/contract.docx", data=b"v2").status_code == 423
    found = propfind(dav, dav.base + "/contract.docx", depth="0",
                     body=b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:lockdiscovery/>'
                          b"</D:prop></D:propfind>")
    owner = etree.fromstring(found.content).find(".//D:activelock/D:owner", NS)
    assert "bob" in "".join(owner.itertext()) and "signing" in "".join(owner.itertext())
    assert dav.get(dav.base + "/contract.docx").content == b"v1"


def test_another_user_cannot_write_through_or_unlock_a_webdav_lock(dav, team, bob, dav_user_of, live_dav):
    from portal.spaces.models import Membership

    Membership.objects.create(space=team, user=bob, role="editor")
    dav.put(dav.base + "/shared.txt", data=b"v1")
    token = token_of(lock(dav, dav.base + "/shared.txt"))
    bobs = dav_user_of(bob).session()
    assert bobs.put(dav.base + "/shared.txt", data=b"bob").status_code == 423
    # Naming alice's token does not make it bob's: his If condition is false.
    assert bobs.put(dav.base + "/shared.txt", data=b"bob", headers=if_token(token)).status_code == 412
    assert bobs.request("UNLOCK", dav.base + "/shared.txt", headers={"Lock-Token": f"<{token}>"}).status_code == 403
    assert lock(bobs, dav.base + "/shared.txt").status_code == 423


def test_a_depth_infinity_folder_lock_covers_new_and_existing_members(dav, team):
    dav.request("MKCOL", dav.base + "/book")
    dav.put(dav.base + "/book/ch1.md", data=b"1")
    token = token_of(lock(dav, dav.base + "/book", depth="infinity"))
    assert Lock.objects.get(token=token).depth == "infinity"
    assert dav.put(dav.base + "/book/ch1.md", data=b"x").status_code == 423
    assert dav.put(dav.base + "/book/ch2.md", data=b"x").status_code == 423
    refused = dav.delete(dav.base + "/book")
    assert refused.status_code == 207 and "423 Locked" in refused.text  # per member, RFC 4918 9.6.1
    assert dav.get(dav.base + "/book/ch1.md").content == b"1"
    assert dav.put(dav.base + "/book/ch2.md", data=b"2", headers=if_token(token)).status_code == 201
    assert dav.put(dav.base + "/book/ch1.md", data=b"x", headers=if_token(token)).status_code == 204


def test_a_depth_0_folder_lock_guards_membership_but_not_member_contents(dav, team):
    dav.request("MKCOL", dav.base + "/inbox")
    dav.put(dav.base + "/inbox/a.txt", data=b"a")
    token = token_of(lock(dav, dav.base + "/inbox", depth="0"))
    assert dav.put(dav.base + "/inbox/a.txt", data=b"changed").status_code == 204
    assert dav.put(dav.base + "/inbox/new.txt", data=b"n").status_code == 423
    assert dav.put(dav.base + "/inbox/new.txt", data=b"n", headers=if_token(token)).status_code == 201


def test_a_lock_on_an_unmapped_url_creates_an_empty_file(dav, team):
    answer = lock(dav, dav.base + "/draft.txt")
    assert answer.status_code == 201
    assert file_node(team, "draft.txt").size == 0
    assert dav.get(dav.base + "/draft.txt").content == b""


def test_shared_locks_coexist_and_exclusive_ones_do_not(dav, team):
    dav.put(dav.base + "/s.txt", data=b"s")
    first = token_of(lock(dav, dav.base + "/s.txt", body=LOCK_SHARED))
    second = token_of(lock(dav, dav.base + "/s.txt", body=LOCK_SHARED))
    assert first != second
    assert lock(dav, dav.base + "/s.txt").status_code == 423


def test_refresh_extends_a_lock_and_unlock_of_an_expired_lock_is_refused(dav, team):
    dav.put(dav.base + "/r.txt", data=b"r")
    token = token_of(lock(dav, dav.base + "/r.txt", timeout=60))
    refreshed = dav.request("LOCK", dav.base + "/r.txt", headers={**if_token(token), "Timeout": "Second-600"})
    assert refreshed.status_code == 200
    assert Lock.objects.get(token=token).timeout_seconds == 600
    Lock.objects.filter(token=token).update(expires_at=timezone.now() - timedelta(seconds=1))
    gone = dav.request("UNLOCK", dav.base + "/r.txt", headers={"Lock-Token": f"<{token}>"})
    assert gone.status_code == 409  # RFC 4918 9.11.1: the token does not lock this resource (any more)
    assert dav.put(dav.base + "/r.txt", data=b"free again").status_code == 204  # the expired lock binds no one


def test_a_refresh_with_an_unknown_token_fails_its_precondition(dav, team):
    dav.put(dav.base + "/p.txt", data=b"p")
    token_of(lock(dav, dav.base + "/p.txt"))
    wrong = dav.request("LOCK", dav.base + "/p.txt",
                        headers={"If": "(<opaquelocktoken:00000000-0000-0000-0000-000000000000>)"})
    assert wrong.status_code == 412


def test_deleting_a_locked_file_with_its_token_destroys_the_lock(dav, team):
    dav.put(dav.base + "/gone.txt", data=b"g")
    token = token_of(lock(dav, dav.base + "/gone.txt"))
    assert dav.delete(dav.base + "/gone.txt").status_code == 423
    assert dav.delete(dav.base + "/gone.txt", headers=if_token(token)).status_code == 204
    assert not Lock.objects.filter(token=token).exists()  # RFC 4918 9.6
    assert dav.put(dav.base + "/gone.txt", data=b"new").status_code == 201


def test_writes_a_lock_refuses_over_webdav_are_audited_once(dav, team, alice):
    from portal.audit.actions import Action
    from tests.helpers import events

    dav.put(dav.base + "/audited.txt", data=b"a")
    token_of(lock(dav, dav.base + "/audited.txt"))
    assert dav.put(dav.base + "/audited.txt", data=b"b").status_code == 423
    assert dav.request("MOVE", dav.base + "/audited.txt",
                       headers={"Destination": dav.base + "/elsewhere.txt"}).status_code == 423
    refused = events(Action.LOCK_WRITE_REFUSED, actor=alice)
    assert [(e.details["operation"], e.outcome, e.target_label) for e in refused] == [
        ("put", "denied", "/team/audited.txt"), ("move", "denied", "/team/audited.txt")]
