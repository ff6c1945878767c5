"""Attacks on issue 16's co-editing server (the y-websocket endpoint of
``python -m portal.collab.server``) and its editor page. Each test is one
attack made over real websockets against the real server process; it passes
when the defence holds."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import subprocess
import sys
import time
from html import unescape

import pytest
import websockets
from django.conf import settings
from django.core import signing
from django.test import Client
from django.urls import reverse
from pycrdt import Doc, Text, create_sync_message, create_update_message, write_var_uint

from portal.accounts.services import user_disable
from portal.audit.models import AuditEvent
from portal.collab.access import member_participation
from portal.collab.document import text_from
from portal.collab.models import CoeditParticipant, CoeditSession, CoeditUpdate, SessionState
from portal.collab.services import session_open
from portal.collab.tickets import _SALT, ticket_issue
from portal.core.access import Cap
from portal.core.errors import Locked
from portal.files.selectors import locate_node, node_at
from portal.files.services.direct import file_put
from portal.files.services.tree import node_trash
from portal.locks.models import Lock, LockKind
from portal.spaces.services import member_remove, space_create
from tests.support.coedit import (
    ROOT, CoeditServer, _serving, connected, eventually, free_port, room_url, run, server_env, version_text)
from tests.support.yclient import YClient

pytestmark = [pytest.mark.postgres]

JOINED = 0          # what ``answer`` says when the server accepted and started syncing
RECHECK = 1         # PORTAL_COEDIT_RECHECK_SECONDS of the test servers (tests/support/coedit.py)
HEARTBEAT = 1       # PORTAL_COEDIT_HEARTBEAT_SECONDS of the test servers
SLACK = 4           # seconds a loaded machine may add to a deadline


# --- helpers --------------------------------------------------------------------------------


def put(user, space, path: str, data: bytes = b"text\n"):
    return file_put(actor=user, space_id=space.pk, path=path, fileobj=io.BytesIO(data), size=len(data)).node


def ticket_of(user, node) -> str:
    """A genuine ticket, as the editor page hands it to ``user`` for ``node``'s open session."""
    participation = member_participation(locate_node(user, node.pk, Cap.FILE_READ), user)
    session = session_open(participation=participation)
    return ticket_issue(node_id=node.pk, session_id=session.pk, user=user)


def url_for(server: CoeditServer, room, ticket: str | None) -> str:
    return f"{server.ws_url}/{room}" + ("" if ticket is None else f"?ticket={ticket}")


async def answer(url: str, *, origin: str | None = None, timeout: float = 30.0) -> int:
    """How the server answers a connection: the HTTP status when it refuses before accepting, the close code
    when it accepts and then closes, JOINED when it starts syncing the document."""
    headers = {"Origin": origin} if origin else None
    try:
        socket = await websockets.connect(url, additional_headers=headers, max_size=None)
    except websockets.InvalidStatus as refused:
        return refused.response.status_code
    try:
        await socket.send(create_sync_message(Doc()))
        await asyncio.wait_for(socket.recv(), timeout)
        return JOINED
    except websockets.ConnectionClosed:
        return socket.close_code
    finally:
        await socket.close()


def stored_with(marker: bytes) -> int:
    return sum(marker in bytes(data) for data in CoeditUpdate.objects.values_list("data", flat=True))


def presence_entries(messages: list[bytes]) -> list[tuple[int, int, object]]:
    """Every (client id, clock, state) in the awareness messages a client received."""
    found = []
    for message in messages:
        data, at = message, 1

        def var_uint():
            nonlocal at
            value, shift = 0, 0
            while True:
                byte = data[at]
                at += 1
                value |= (byte & 0x7F) << shift
                if byte < 0x80:
                    return value
                shift += 7

        length = var_uint()
        data, at = data[at:at + length], 0
        for _ in range(var_uint()):
            client_id, clock = var_uint(), var_uint()
            size = var_uint()
            state = json.loads(data[at:at + size].decode())
            at += size
            found.append((client_id, clock, state))
    return found


def states_of(client: YClient, client_id: int) -> list:
    return [state for who, _, state in presence_entries(client.awareness) if who == client_id]


def update_message(text: str, at: int = 0) -> bytes:
    """A genuine Yjs update inserting ``text`` (made by a fresh document)."""
    doc = Doc()
    doc.get("content", type=Text).insert(at, text)
    return create_update_message(doc.get_update())


def var_bytes(data: bytes) -> bytes:
    return write_var_uint(len(data)) + data


async def proves_alive(writer: YClient, reader: YClient, marker: str) -> None:
    """``writer`` still edits and ``reader`` still receives: the connection and the room work."""
    await writer.insert(len(writer.content), marker)
    await reader.wait_for(lambda: marker in reader.content)


async def type_until_closed(client: YClient, letter: str, deadline: float) -> list[float]:
    """Type ``letter`` every 50 ms until the server closes the connection (or the deadline); the send times."""
    sent = []
    while client.close_code is None and time.monotonic() < deadline:
        try:
            await client.insert(len(client.content), letter)
        except websockets.ConnectionClosed:
            break
        sent.append(time.monotonic())
        await asyncio.sleep(0.05)  # a typist's pace; the loop ends on the close, not after a fixed time
    return sent


# --- tickets ----------------------------------------------------------------------------------


def test_a_forged_an_altered_and_an_expired_ticket_are_refused_with_4400(coedit_server, notes):
    genuine = ticket_of(notes.editor, notes.node)
    payload = signing.loads(genuine, salt=_SALT)
    forged = signing.dumps(payload, key="x" * 50, salt=_SALT, compress=False)        # another site's key
    altered_payload = signing.dumps({**payload, "u": notes.owner.pk}, salt="attacker", compress=False)
    altered = altered_payload.partition(":")[0] + ":" + genuine.partition(":")[2]     # alice's id, bob's signature

    class Yesterday(signing.TimestampSigner):
        def timestamp(self):
            return signing.b62_encode(int(time.time()) - settings.COEDIT_TICKET_HOURS * 3600 - 60)

    expired = Yesterday(salt=_SALT).sign_object(payload, compress=False)
    both = signing.dumps({**payload, "l": 1}, salt=_SALT, compress=False)            # a user and a link at once
    truncated = genuine[:-3]
    for ticket in (forged, altered, expired, both, truncated, "", "x" * 2000, None):
        assert run(answer(url_for(coedit_server, notes.node.pk, ticket))) == 4400, ticket
    assert run(answer(url_for(coedit_server, notes.node.pk, genuine))) == JOINED  # the genuine one works
    assert not CoeditParticipant.objects.exclude(user=notes.editor).exists()


def test_a_ticket_for_another_file_or_another_session_does_not_open_this_one(coedit_server, notes):
    other = put(notes.owner, notes.space, "/other.md", b"other\n")
    for_other = ticket_of(notes.editor, other)
    assert run(answer(url_for(coedit_server, notes.node.pk, for_other))) == 4400
    # A ticket naming this file but another file's session (the server never issues one; if it did):
    other_session = CoeditSession.objects.get(node=other, state=SessionState.OPEN)
    mixed = ticket_issue(node_id=notes.node.pk, session_id=other_session.pk, user=notes.editor)
    assert run(answer(url_for(coedit_server, notes.node.pk, mixed))) in (4400, 4409)
    # A ticket of a session that has ended: the page must start over, it does not reopen the old document.
    old = ticket_of(notes.editor, notes.node)
    session = CoeditSession.objects.get(node=notes.node, state=SessionState.OPEN)
    assert run(answer(url_for(coedit_server, notes.node.pk, old))) == JOINED
    eventually(lambda: CoeditSession.objects.get(pk=session.pk).state == SessionState.CLOSED, what="the close")
    assert run(answer(url_for(coedit_server, notes.node.pk, old))) == 4409
    eventually(lambda: not CoeditParticipant.objects.exists(), what="every participant's leaving")


def test_an_outsider_probing_file_ids_gets_the_same_answer_as_for_a_missing_file(coedit_server, notes, make_user):
    dave = make_user(username="dave")
    own = put(dave, space_create(actor=dave, name="Dave's"), "/mine.md")
    ticket = ticket_of(dave, own)
    existing = run(answer(url_for(coedit_server, notes.node.pk, ticket)))
    missing = run(answer(url_for(coedit_server, 987654321, ticket)))
    no_ticket = run(answer(url_for(coedit_server, notes.node.pk, None)))
    assert existing == missing == no_ticket == 4400
    assert run(answer(url_for(coedit_server, "not-a-number", ticket))) == 403
    assert not CoeditParticipant.objects.exists()


# --- people who lose their right ------------------------------------------------------------


def _typed(node) -> str:
    """The text the stored updates of the file's open session add up to."""
    return text_from(bytes(data) for data in CoeditUpdate.objects.filter(
        session__node=node, session__state=SessionState.OPEN).order_by("id").values_list("data", flat=True))


def _cut_while_typing(server, notes, revoke, *, refused_codes=(4403,)) -> None:
    """Bob types while ``revoke()`` takes his right away: his connection is cut within the recheck interval,
    nothing he typed after that reaches Alice or the database, and his old ticket no longer gets in."""
    bob_url = room_url(server, notes.editor, notes.node)
    alice_url = room_url(server, notes.owner, notes.node)

    async def scenario():
        alice, bob = await connected(alice_url), await connected(bob_url)
        await proves_alive(bob, alice, "before ")
        revoked_at = time.monotonic()
        await asyncio.to_thread(revoke)
        sent = await type_until_closed(bob, "Z", revoked_at + RECHECK + HEARTBEAT + SLACK + 10)
        code = bob.close_code if bob.close_code is not None else await bob.wait_closed(SLACK)
        took = time.monotonic() - revoked_at
        stored = (await asyncio.to_thread(_typed, notes.node)).count("Z")  # all of bob's messages were handled
        await alice.wait_for(lambda: alice.content.count("Z") == stored)
        await alice.close()
        return code, took, revoked_at, sent, stored

    code, took, revoked_at, sent, stored = run(scenario())
    assert code in refused_codes
    assert took <= RECHECK + HEARTBEAT + SLACK, f"cut after {took:.1f} s"
    if stored:  # whatever slipped through was typed within the recheck interval, never after it
        assert sent[stored - 1] - revoked_at <= RECHECK + HEARTBEAT + 0.5
    assert run(answer(bob_url)) in refused_codes
    eventually(lambda: CoeditSession.objects.get(node=notes.node).state == SessionState.CLOSED, what="the close")
    written = version_text(notes.node)  # what Bob typed while he could is kept, and nothing after that
    assert "before " in written and written.count("Z") == stored


def test_a_member_removed_from_the_space_is_cut_off_and_cannot_come_back(coedit_server, notes):
    _cut_while_typing(coedit_server, notes, lambda: member_remove(
        actor=notes.owner, space_id=notes.space.pk, user_id=notes.editor.pk))


def test_a_changed_password_kills_the_ticket_and_the_open_connection(coedit_server, notes):
    def change_password():
        notes.editor.set_password("a brand new passphrase 42")
        notes.editor.save()

    _cut_while_typing(coedit_server, notes, change_password, refused_codes=(4400, 4403))


def test_a_disabled_user_is_cut_off_and_cannot_come_back(coedit_server, notes, make_user):
    admin = make_user(username="root-admin", is_superuser=True, is_staff=True)
    _cut_while_typing(coedit_server, notes, lambda: user_disable(actor=admin, user_id=notes.editor.pk))


def test_updates_sent_right_after_a_removal_are_not_stored(coedit_server, notes):
    """The recheck is periodic; a removed member's next message must not be stored on the strength of a
    check made before the removal (the portal's other ways in check every request)."""
    bob_url = room_url(coedit_server, notes.editor, notes.node)
    alice_url = room_url(coedit_server, notes.owner, notes.node)

    async def scenario():
        alice, bob = await connected(alice_url), await connected(bob_url)
        await proves_alive(bob, alice, "before ")
        await asyncio.to_thread(member_remove, actor=notes.owner, space_id=notes.space.pk, user_id=notes.editor.pk)
        await bob.insert(0, "Z")  # at once: within the recheck interval
        await bob.wait_closed(RECHECK + HEARTBEAT + SLACK)  # the server has handled the Z by now
        stored = await asyncio.to_thread(_typed, notes.node)
        await alice.close()
        return stored

    assert "Z" not in run(scenario())


def test_a_file_being_edited_cannot_be_moved_to_the_trash_under_its_editors(coedit_server, notes):
    bob_url = room_url(coedit_server, notes.editor, notes.node)

    def try_trash(who):
        try:
            node_trash(actor=who, node_id=notes.node.pk)
        except Locked:
            return "locked"
        return "trashed"

    async def scenario():
        bob = await connected(bob_url)
        assert await asyncio.to_thread(Lock.objects.filter(node=notes.node, kind=LockKind.COEDIT).exists)
        tries = [await asyncio.to_thread(try_trash, who) for who in (notes.owner, notes.editor)]
        await bob.close()
        return tries

    assert run(scenario()) == ["locked", "locked"]
    notes.node.refresh_from_db()
    assert notes.node.trashed_at is None


def test_a_file_moved_to_the_trash_while_people_follow_it_stops_their_editor(coedit_server, notes):
    """With only followers in the session nothing holds a lock: the owner trashes the file; the followers'
    editors stop within the recheck interval and say why (4404: 'moved to the trash')."""
    carol_url = room_url(coedit_server, notes.viewer, notes.node)

    async def scenario():
        carol = await connected(carol_url)
        trashed_at = time.monotonic()
        await asyncio.to_thread(node_trash, actor=notes.owner, node_id=notes.node.pk)
        code = await carol.wait_closed(RECHECK + HEARTBEAT + SLACK)
        return code, time.monotonic() - trashed_at

    code, took = run(scenario())
    assert took <= RECHECK + HEARTBEAT + SLACK
    assert code == 4404, f"closed with {code}; the editor page says 'moved to the trash' only for 4404"
    assert run(answer(carol_url)) in (4403, 4404, 4409)


# --- followers ---------------------------------------------------------------------------------


def test_a_viewer_pushing_updates_every_way_the_protocol_allows_changes_nothing(coedit_server, notes):
    alice_url = room_url(coedit_server, notes.owner, notes.node)
    carol_url = room_url(coedit_server, notes.viewer, notes.node)

    async def scenario():
        alice, carol = await connected(alice_url), await connected(carol_url)
        await carol.insert(0, "VANDAL1 ")                                       # an ordinary update
        step2 = update_message("VANDAL2 ")
        await carol.send_raw(step2[:1] + b"\x01" + step2[2:])                   # as a sync step 2 reply
        await carol.send_raw(update_message("VANDAL3 "))                        # a whole fresh document
        await proves_alive(alice, carol, "from alice")                          # carol still follows
        await alice.insert(0, "!")
        await carol.wait_for(lambda: carol.content.count("!") == 1)
        await alice.close()
        await carol.close()
        return alice.content

    alice_sees = run(scenario())
    assert "VANDAL" not in alice_sees
    assert stored_with(b"VANDAL") == 0
    assert not CoeditUpdate.objects.filter(author=notes.viewer).exists()
    eventually(lambda: "from alice" in version_text(notes.node), what="the saved version")
    assert "VANDAL" not in version_text(notes.node)


# --- where the connection comes from ------------------------------------------------------------


def test_another_sites_page_is_refused_before_accept_while_a_program_without_origin_gets_in(coedit_server, notes):
    url = url_for(coedit_server, notes.node.pk, ticket_of(notes.editor, notes.node))
    for origin in ("https://evil.example", "http://127.0.0.1.evil.example", "null", "http://localhost.evil:80"):
        assert run(answer(url, origin=origin)) == 403, origin
    assert not CoeditParticipant.objects.exists()

    async def both():
        holder = await connected(url)  # keeps the session open between the two tries
        answers = (await answer(url, origin="http://localhost:8000"),   # the portal's own page
                   await answer(url))                                    # no Origin: the ticket alone
        await holder.close()
        return answers

    assert run(both()) == (JOINED, JOINED)


# --- presence --------------------------------------------------------------------------------------


def test_nobody_can_show_up_under_a_colleagues_name(coedit_server, notes):
    alice_url = room_url(coedit_server, notes.owner, notes.node)
    bob_url = room_url(coedit_server, notes.editor, notes.node)

    async def scenario():
        alice, bob = await connected(alice_url), await connected(bob_url)
        await bob.announce(4242, 1, json.dumps({"user": {"name": "Alice", "color": "#000000"}, "cursor": None}))
        await alice.wait_for(lambda: states_of(alice, 4242))
        await alice.close()
        await bob.close()
        return states_of(alice, 4242)

    (state,) = run(scenario())
    assert state["user"]["name"] == "Bob" and state["user"]["color"] != "#000000"


def test_nobody_can_remove_or_rewrite_another_persons_cursor(coedit_server, notes, make_user):
    urls = [room_url(coedit_server, user, notes.node) for user in (notes.owner, notes.editor, notes.viewer)]

    async def scenario():
        alice, bob, carol = [await connected(url) for url in urls]
        await alice.announce(1111, 1, json.dumps({"cursor": {"anchor": 1}}))
        await carol.wait_for(lambda: states_of(carol, 1111))
        await bob.announce(1111, 9, "null")                                      # "Alice left"
        await bob.announce(1111, 10, json.dumps({"cursor": {"anchor": 99}}))   # Alice's cursor moved elsewhere
        await bob.announce(2222, 1, json.dumps({"cursor": None}))              # bob's own: arrives after those
        await carol.wait_for(lambda: states_of(carol, 2222))
        seen = states_of(carol, 1111)  # before anyone leaves (leaving rightly removes one's cursor)
        await alice.close()
        await bob.close()
        await carol.close()
        return seen

    assert run(scenario()) == [{"cursor": {"anchor": 1}, "user": {"name": "Alice", "color": notes_color(notes.owner),
                                                                   "colorLight": notes_color(notes.owner) + "33",
                                                                   "readOnly": False}}]


def notes_color(user) -> str:
    from portal.collab.access import color_of

    return color_of(user.pk)


def test_with_two_server_processes_nobody_can_remove_a_cursor_held_on_the_other_process(coedit_servers, notes):
    one, two = coedit_servers(), coedit_servers()
    alice_url, carol_url = room_url(one, notes.owner, notes.node), room_url(one, notes.viewer, notes.node)
    bob_url = room_url(two, notes.editor, notes.node)

    async def scenario():
        alice, carol, bob = await connected(alice_url), await connected(carol_url), await connected(bob_url)
        await alice.announce(1111, 1, json.dumps({"cursor": {"anchor": 1}}))
        await bob.wait_for(lambda: states_of(bob, 1111))                        # bob sees alice's id
        await bob.announce(1111, 9, "null")
        await bob.announce(2222, 1, json.dumps({"cursor": None}))
        await carol.wait_for(lambda: states_of(carol, 2222))
        seen = states_of(carol, 1111)  # before anyone leaves (leaving rightly removes one's cursor)
        for client in (alice, bob, carol):
            await client.close()
        return seen

    assert None not in run(scenario())


def test_a_huge_a_non_json_or_a_deeply_nested_presence_is_dropped_and_the_connection_goes_on(
        coedit_server, notes):
    urls = [room_url(coedit_server, user, notes.node) for user in (notes.owner, notes.editor)]

    async def scenario():
        alice, bob = [await connected(url) for url in urls]
        await bob.announce(3001, 1, json.dumps({"blob": "x" * 20000}))
        await bob.announce(3002, 1, "{not json")
        await bob.send_raw(b"\x01" + var_bytes(write_var_uint(1) + write_var_uint(3003) + write_var_uint(1)
                                               + var_bytes(b"\xff\xfe\xfd")))   # not UTF-8
        await bob.announce(3004, 1, '{"a": ' + "[" * 4000 + "]" * 4000 + "}")
        await bob.announce(3005, 1, json.dumps([1, 2, 3]))                       # JSON, but not an object
        await bob.send_raw(b"\x01" + var_bytes(write_var_uint(10 ** 6)))          # a count with nothing after it
        await bob.announce(3006, 1, json.dumps({"cursor": None}))
        await alice.wait_for(lambda: states_of(alice, 3006))
        await proves_alive(bob, alice, "still here")
        await alice.close()
        await bob.close()
        return {client_id for client_id, _, _ in presence_entries(alice.awareness)}

    seen = run(scenario())
    assert not seen & {3001, 3002, 3003, 3004, 3005}


# --- broken and hostile messages ------------------------------------------------------------------


def test_malformed_sync_messages_and_garbage_updates_are_dropped_and_the_room_goes_on(coedit_server, notes):
    urls = [room_url(coedit_server, user, notes.node) for user in (notes.owner, notes.editor)]
    garbage = [
        b"\x00", b"\x00\x02", b"\x00\x02\xff\xff\xff\xff\xff", b"\x00\x02" + var_bytes(b"GARBAGE-UPDATE-1"),
        b"\x00\x01" + var_bytes(b"\x07GARBAGE"), b"\x00\x00" + var_bytes(b"\xff" * 40), b"\x00\x09abc",
        b"\x02", b"\x03\x00", b"\x07garbage", b"\xff" * 64, b"\x00\x02" + var_bytes(b"\x05\x00GARBAGE-2"),
        b"\x00\x02" + write_var_uint(1 << 40) + b"GARBAGE-3",
    ]

    async def scenario():
        alice, bob = [await connected(url) for url in urls]
        await proves_alive(bob, alice, "A")
        before = await asyncio.to_thread(CoeditUpdate.objects.count)
        for message in garbage:
            await bob.send_raw(message)
        await bob._socket.send("text frames are not the protocol")
        await proves_alive(bob, alice, "B")
        await proves_alive(alice, bob, "C")
        after = await asyncio.to_thread(CoeditUpdate.objects.count)
        content = alice.content
        await alice.close()
        await bob.close()
        return before, after, content, bob.close_code

    before, after, content, code = run(scenario())
    assert after == before + 2                       # exactly the two real edits
    assert content == "Hello\nABC"
    assert stored_with(b"GARBAGE") == 0
    eventually(lambda: version_text(notes.node) == "Hello\nABC", what="the saved version")


def test_a_message_over_the_servers_size_limit_is_refused_and_the_room_goes_on(coedit_server, notes):
    urls = [room_url(coedit_server, user, notes.node) for user in (notes.owner, notes.editor, notes.viewer)]
    limit = max(settings.COEDIT_MAX_BYTES * 2, 1 << 20)  # what the server gives uvicorn as ws_max_size

    async def scenario():
        alice, bob, carol = [await connected(url) for url in urls]
        await bob.send_raw(update_message("HUGE" + "h" * limit))
        code = await bob.wait_closed(30)
        await proves_alive(alice, carol, "still fine")
        await alice.close()
        await carol.close()
        return code, alice.content

    code, content = run(scenario())
    assert code == 1009
    assert "HUGE" not in content
    assert stored_with(b"HUGE") == 0


def test_an_editor_cannot_grow_the_document_past_the_editors_limit(coedit_servers, notes):
    """Files larger than COEDIT_MAX_BYTES do not open in the editor; the session must not grow one either
    (every stored update is kept in the database outside the space's quota until the version is written)."""
    small = 64 * 1024
    server = coedit_servers(PORTAL_COEDIT_MAX_BYTES=str(small))
    urls = [room_url(server, user, notes.node) for user in (notes.owner, notes.editor)]

    async def scenario():
        alice, bob = [await connected(url) for url in urls]
        for index in range(4):  # each message within the websocket limit (1 MiB), together far past the editor's
            try:
                await bob.send_raw(update_message(f"BIG{index}" + "b" * small, at=0))
            except websockets.ConnectionClosed:
                break
        code = await bob.wait_closed(30)  # told why: the editor says the document would be too large
        await alice.insert(0, "END")      # the room goes on for everyone else
        await alice.wait_for(lambda: alice.content.startswith("END"))
        content = alice.content
        await alice.close()
        return code, content

    code, content = run(scenario())
    assert code == 4413
    assert "BIG" not in content and len(content.encode()) <= small
    stored = sum(len(bytes(data)) for data in CoeditUpdate.objects.values_list("data", flat=True))
    assert stored <= 2 * small


def test_a_flood_of_connections_from_one_user_is_bounded(coedit_server, notes):
    url = room_url(coedit_server, notes.editor, notes.node)
    attempts = 40

    async def scenario():
        answers = []
        sockets = []
        for _ in range(attempts):
            try:
                socket = await websockets.connect(url, max_size=None)
            except websockets.InvalidStatus as refused:
                answers.append(refused.response.status_code)
                continue
            sockets.append(socket)
            try:
                await socket.send(create_sync_message(Doc()))
                await asyncio.wait_for(socket.recv(), 30)
                answers.append(JOINED)
            except websockets.ConnectionClosed:
                answers.append(socket.close_code)
        kept = await asyncio.to_thread(CoeditParticipant.objects.filter(user=notes.editor).count)
        for socket in sockets:
            await socket.close()
        return answers, kept

    answers, kept = run(scenario())
    assert kept < attempts, f"all {attempts} connections of one user were kept: no bound"
    assert any(code != JOINED for code in answers)


# --- the editor page --------------------------------------------------------------------------------


def web_as(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def without_csrf(response) -> str:
    """The page without what differs on every page anyway (the CSRF token, the address it was asked at)."""
    page = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", response.content.decode())
    return re.sub(r"/spaces/\d+/items/\d+/edit", "/spaces/S/items/N/edit", page)


def edit_url(space_id, node_id) -> str:
    return reverse("collab:edit", args=[space_id, node_id])


def editor_config(response) -> dict:
    found = re.search(r'<script id="coedit-config" type="application/json">(.*?)</script>', response.content.decode(),
                      re.S)
    assert found, "no editor configuration on the page"
    return json.loads(unescape(found[1]))


def test_an_outsider_gets_the_same_404_for_anothers_file_and_a_missing_one(notes, make_user):
    dave = make_user(username="dave")
    own_space = space_create(actor=dave, name="Dave's")
    client = web_as(dave)
    foreign = client.get(edit_url(notes.space.pk, notes.node.pk))
    missing = client.get(edit_url(notes.space.pk, 987654321))
    via_own_space = client.get(edit_url(own_space.pk, notes.node.pk))
    assert foreign.status_code == missing.status_code == via_own_space.status_code == 404
    assert without_csrf(foreign) == without_csrf(missing) == without_csrf(via_own_space)
    assert b"ticket" not in foreign.content
    assert not CoeditSession.objects.exists()  # probing opens no session either
    assert Client().get(edit_url(notes.space.pk, notes.node.pk)).status_code == 302  # signed out: to sign in


def test_a_viewer_gets_a_read_only_editor_whose_ticket_only_follows(coedit_server, notes):
    response = web_as(notes.viewer).get(edit_url(notes.space.pk, notes.node.pk))
    assert response.status_code == 200
    config = editor_config(response)
    assert config["can_edit"] is False and config["readonly_reason"]
    assert 'id="coedit-readonly"' in response.content.decode()
    assert config["user"]["name"] == "Carol"
    alice_url = room_url(coedit_server, notes.owner, notes.node)

    async def scenario():
        alice = await connected(alice_url)
        carol = await connected(url_for(coedit_server, config["room"], config["ticket"]))
        await carol.insert(0, "VANDAL ")
        await proves_alive(alice, carol, "!")
        await alice.close()
        await carol.close()
        return alice.content

    assert "VANDAL" not in run(scenario())
    assert stored_with(b"VANDAL") == 0


def test_the_page_carrying_a_ticket_is_not_kept_by_caches(notes):
    response = web_as(notes.editor).get(edit_url(notes.space.pk, notes.node.pk))
    assert response.status_code == 200 and editor_config(response)["ticket"]
    assert "no-store" in response.get("Cache-Control", ""), "the WOPI page is 'private, no-store' for its token"


def test_a_folder_a_binary_file_and_non_utf8_text_get_a_clear_error_not_an_editor(notes):
    put(notes.owner, notes.space, "/Docs/readme.md")
    folder = node_at(notes.space, ["Docs"])[0]
    image = put(notes.owner, notes.space, "/photo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 32)
    latin = put(notes.owner, notes.space, "/latin.txt", "caf\u00e9 cr\u00e8me\n".encode("latin-1"))
    client = web_as(notes.editor)
    for node, words in ((folder, "is a folder"), (image, "is not a text file"), (latin, "not UTF-8")):
        response = client.get(edit_url(notes.space.pk, node.pk))
        assert response.status_code == 400, (node.name, response.status_code)
        assert words in unescape(response.content.decode()), node.name
        assert b"coedit-config" not in response.content
    assert not CoeditSession.objects.exclude(node=notes.node).exists()


# --- the ticket stays out of logs -------------------------------------------------------------------


def test_the_ticket_is_written_to_no_log(notes, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    response = web_as(notes.editor).get(edit_url(notes.space.pk, notes.node.pk))
    ticket = editor_config(response)["ticket"]
    signature = ticket.rsplit(":", 1)[1]
    assert signature not in caplog.text  # the portal's own log of the page
    caplog.set_level(logging.WARNING)    # (the test's websocket client logs its own requests at DEBUG)
    port = free_port()
    log_path = tmp_path / "coedit-server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "portal.collab.server", "--bind", f"127.0.0.1:{port}"], cwd=ROOT,
            env=server_env(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        server = CoeditServer(port=port, process=process)
        try:
            _serving(server)
            url = url_for(server, notes.node.pk, ticket)

            async def scenario():
                holder = await connected(url)  # keeps the session open for the other tries
                assert await answer(url) == JOINED
                assert await answer(url, origin="https://evil.example") == 403
                assert await answer(url_for(server, 987654321, ticket)) == 4400
                assert await answer(url_for(server, notes.node.pk, ticket[:-2])) == 4400
                crasher = await connected(url)
                await crasher.announce(5, 1, '{"a": ' + "[" * 4000 + "]" * 4000 + "}")  # a server-side error
                await crasher.send_raw(update_message("h" * (max(settings.COEDIT_MAX_BYTES * 2, 1 << 20) + 10)))
                await crasher.wait_closed(30)
                await holder.close()

            run(scenario())
        finally:
            server.stop()
    text = log_path.read_text(errors="replace")
    assert "Application startup complete" in text  # the log did capture the server's output
    assert signature not in text, "the server's log holds the ticket: " + next(
        line for line in text.splitlines() if signature in line)
    assert not any(signature in json.dumps(details) for details in AuditEvent.objects.values_list("details",
                                                                                                   flat=True))
