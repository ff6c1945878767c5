"""The co-editing server with real clients over real websockets: editing
together, followers, what is stored and written back, and who gets in."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.audit.actions import Action
from portal.collab.models import CoeditParticipant, CoeditSession, CoeditUpdate, SessionState
from portal.collab.services import sweep
from portal.core.errors import Locked
from portal.files.services.direct import file_put
from portal.locks.services import lock_acquire
from portal.spaces.services import member_add
from tests.helpers import assert_error
from portal.files.models import FileVersion
from tests.support.coedit import connected, eventually, room_url, run, version_text
from tests.support.yclient import YClient
from tests.helpers import events

pytestmark = [pytest.mark.postgres]


def test_two_editors_typing_at_once_end_with_the_same_text_written_as_a_version_by_both(coedit_server, notes, api,
                                                                                       client):
    alice_url = room_url(coedit_server, notes.owner, notes.node)
    bob_url = room_url(coedit_server, notes.editor, notes.node)

    async def scenario():
        alice, bob = await connected(alice_url), await connected(bob_url)
        assert alice.content == bob.content == "Hello\n"
        for index in range(20):  # interleaved, without waiting for each other
            await alice.insert(0, "a")
            await bob.insert(len(bob.content), "b")
        await alice.wait_for(lambda: alice.content.count("b") == 20)
        await bob.wait_for(lambda: bob.content.count("a") == 20)
        assert alice.content == bob.content
        final = alice.content
        await alice.close()
        await bob.close()
        return final

    final = run(scenario())
    assert final.startswith("a" * 20) and final.endswith("b" * 20) and "Hello\n" in final
    eventually(lambda: CoeditSession.objects.get(node=notes.node).state == SessionState.CLOSED, what="the close")
    assert version_text(notes.node) == final
    version = FileVersion.objects.get(pk=notes.node.current_version_id)
    assert {user.username for user in version.coauthors.all()} == {"alice", "bob"}
    assert len(events(Action.COEDIT_JOINED)) == 2
    assert len(events(Action.COEDIT_LEFT)) == 2
    (saved,) = events(Action.COEDIT_SAVED)
    assert set(saved.details["coauthors"].split(", ")) == {"alice", "bob"}
    # The version history shows them: the API and the details drawer.
    listed = api.as_user(notes.viewer).get(f"/api/v1/files/{notes.node.pk}/versions").json()["results"]
    assert sorted(listed[0]["coauthors"]) == ["alice", "bob"] and listed[1]["coauthors"] == []
    client.force_login(notes.viewer)
    drawer = client.get(f"/spaces/{notes.space.pk}/items/{notes.node.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert "edited together by" in drawer and "Alice, Bob" in drawer


def test_a_viewer_follows_the_editors_but_their_changes_reach_nobody_and_are_not_stored(coedit_server, notes):
    alice_url = room_url(coedit_server, notes.owner, notes.node)
    carol_url = room_url(coedit_server, notes.viewer, notes.node)

    async def scenario():
        alice, carol = await connected(alice_url), await connected(carol_url)
        await carol.insert(0, "VANDAL ")  # her own copy changes; the server drops it
        await alice.insert(0, "Dear team, ")
        await carol.wait_for(lambda: carol.content.count("Dear team, ") == 1)
        await alice.insert(len(alice.content), "bye")  # a later update: the viewer's would have come before it
        await carol.wait_for(lambda: carol.content.endswith("bye"))
        assert "VANDAL" not in alice.content
        await alice.close()
        await carol.close()

    run(scenario())
    assert not any(b"VANDAL" in bytes(data) for data in CoeditUpdate.objects.values_list("data", flat=True))
    eventually(lambda: "Dear team, " in version_text(notes.node), what="the saved version")
    assert "VANDAL" not in version_text(notes.node)


def test_while_people_edit_the_api_sees_a_coedit_lock_naming_them_and_uploads_get_423(
        coedit_server, notes, api, aio, make_user):
    alice = aio(connected(room_url(coedit_server, notes.owner, notes.node)))
    bob = aio(connected(room_url(coedit_server, notes.editor, notes.node)))
    file_url = f"/api/v1/files/{notes.node.pk}"
    eventually(lambda: (api.as_user(notes.viewer).get(file_url).json()["lock"] or {}).get("editors") == [
        "Alice", "Bob"], what="the lock in the API")
    lock = api.as_user(notes.viewer).get(file_url).json()["lock"]
    assert lock["kind"] == "coedit" and lock["scope"] == "shared"
    # An upload over the API by an editor who is not in the session: 423 naming who is editing.
    make_user(username="dave")
    member_add(actor=notes.owner, space_id=notes.space.pk, username="dave", role="editor")
    dave = notes.owner.__class__.objects.get(username="dave")
    response = api.as_user(dave).post("/api/v1/uploads", {"space": notes.space.pk, "path": "/notes.md", "size": 3},
                                      format="json")
    body = assert_error(response, 423, "locked")
    assert body["detail"]["editors"] == ["Alice", "Bob"] and "Alice, Bob" in body["message"]
    # Even a co-author's own upload waits: it would overwrite what the others are typing.
    with pytest.raises(Locked):
        file_put(actor=notes.editor, space_id=notes.space.pk, path="/notes.md", fileobj=io.BytesIO(b"x"), size=1)
    aio(alice.close())
    aio(bob.close())
    eventually(lambda: api.as_user(notes.viewer).get(file_url).json()["lock"] is None,
               what="the lock to go when everyone left")


def test_an_exclusive_lock_of_someone_else_makes_the_editor_a_follower(coedit_server, notes, aio):
    lock_acquire(actor=notes.owner, node=notes.node, note="finishing the intro")
    bob = aio(connected(room_url(coedit_server, notes.editor, notes.node)))
    eventually(lambda: CoeditParticipant.objects.filter(user=notes.editor).exists(), what="bob's join")
    assert not CoeditParticipant.objects.get(user=notes.editor).can_edit
    aio(bob.insert(0, "sneaky "))
    aio(bob.close())
    eventually(lambda: not CoeditParticipant.objects.exists(), what="bob's leave")
    assert version_text(notes.node) == "Hello\n"
    assert not CoeditUpdate.objects.filter(author=notes.editor).exists()


def test_two_server_processes_serve_one_document_consistently_through_redis(coedit_servers, notes):
    one, two = coedit_servers(), coedit_servers()
    alice_url = room_url(one, notes.owner, notes.node)
    bob_url = room_url(two, notes.editor, notes.node)

    async def scenario():
        alice, bob = await connected(alice_url), await connected(bob_url)
        for index in range(15):
            await alice.insert(0, "<")
            await bob.insert(len(bob.content), ">")
        await alice.wait_for(lambda: alice.content.count(">") == 15)
        await bob.wait_for(lambda: bob.content.count("<") == 15)
        assert alice.content == bob.content == "<" * 15 + "Hello\n" + ">" * 15
        await alice.close()
        await bob.close()

    run(scenario())
    eventually(lambda: version_text(notes.node) == "<" * 15 + "Hello\n" + ">" * 15, what="the saved version")


def test_a_sigkill_of_the_server_loses_no_update_another_client_had_received(coedit_servers, notes):
    """Whatever one client saw of another's typing was stored first: after a SIGKILL and a restart,
    a new reader gets exactly that, though both writers are gone."""
    server = coedit_servers()
    alice_url = room_url(server, notes.owner, notes.node)
    bob_url = room_url(server, notes.editor, notes.node)

    async def typing():
        alice, bob = await connected(alice_url), await connected(bob_url)
        for index in range(10):
            await alice.insert(len(alice.content), f"a{index} ")
            await bob.wait_for(lambda index=index: f"a{index} " in bob.content)
            await bob.insert(0, f"b{index} ")
            await alice.wait_for(lambda index=index: f"b{index} " in alice.content)
        seen = bob.content
        server.kill()
        return seen

    seen = run(typing())
    restarted = coedit_servers(port=server.port)
    carol_url = room_url(restarted, notes.viewer, notes.node)

    async def reading():
        carol = await connected(carol_url)
        content = carol.content
        await carol.close()
        return content

    assert run(reading()) == seen


def test_the_sweep_ends_sessions_whose_server_died_and_writes_their_work(coedit_servers, notes, aio):
    server = coedit_servers()
    alice = aio(connected(room_url(server, notes.owner, notes.node)))
    aio(alice.insert(0, "unsaved "))
    eventually(lambda: CoeditUpdate.objects.count() >= 2, what="the update stored")
    server.kill()
    assert version_text(notes.node) == "Hello\n"
    counts = sweep(now=timezone.now() + timedelta(minutes=10))
    assert counts["left"] == 1 and counts["closed"] == 1
    assert version_text(notes.node) == "unsaved Hello\n"
    assert CoeditSession.objects.get(node=notes.node).state == SessionState.CLOSED
    assert not notes.node.locks.exists()


def test_a_long_session_gets_a_version_every_few_minutes_while_people_keep_typing(coedit_server, notes, aio):
    alice = aio(connected(room_url(coedit_server, notes.owner, notes.node)))
    aio(alice.insert(0, "draft "))
    eventually(lambda: CoeditUpdate.objects.count() >= 2, what="the update stored")
    CoeditSession.objects.update(saved_at=timezone.now() - timedelta(minutes=6))  # as if typed for six minutes
    assert sweep() == {"left": 0, "closed": 0, "saved": 1}
    assert version_text(notes.node) == "draft Hello\n"
    assert CoeditSession.objects.get(node=notes.node).state == SessionState.OPEN
    aio(alice.insert(0, "more "))
    aio(alice.close())
    eventually(lambda: version_text(notes.node) == "more draft Hello\n", what="the final version")
    assert notes.node.versions.count() == 3


def test_removing_a_member_cuts_their_open_editor_off_at_once_not_at_the_next_periodic_check(
        coedit_servers, notes, aio):
    from portal.spaces.services import member_remove

    server = coedit_servers(PORTAL_COEDIT_RECHECK_SECONDS="3600", PORTAL_COEDIT_HEARTBEAT_SECONDS="3600")
    alice = aio(connected(room_url(server, notes.owner, notes.node)))
    bob = aio(connected(room_url(server, notes.editor, notes.node)))
    member_remove(actor=notes.owner, space_id=notes.space.pk, user_id=notes.editor.pk)
    assert aio(bob.wait_closed(timeout=20)) == 4403
    aio(alice.insert(0, "still here "))
    aio(alice.close())
    eventually(lambda: version_text(notes.node) == "still here Hello\n", what="alice's version")


def test_a_file_uploaded_while_nobody_was_in_its_session_opens_in_a_fresh_session_with_the_new_text(
        coedit_server, notes, aio):
    from portal.collab.access import member_participation
    from portal.collab.document import text_from
    from portal.collab.services import session_open, session_updates
    from portal.files.selectors import locate_node

    first = session_open(participation=member_participation(locate_node(notes.owner, notes.node.pk), notes.owner))
    stale_url = room_url(coedit_server, notes.owner, notes.node)  # a page opened, then left unconnected
    file_put(actor=notes.editor, space_id=notes.space.pk, path="/notes.md", fileobj=io.BytesIO(b"Uploaded\n"),
             size=9)
    client = aio(YClient(stale_url).connect())
    assert aio(client.wait_closed()) == 4409  # the page reloads...
    notes.node.refresh_from_db()
    second = session_open(participation=member_participation(locate_node(notes.owner, notes.node.pk), notes.owner))
    assert second.pk != first.pk  # ...into a session started from the upload
    assert text_from(session_updates(session_id=second.pk)) == "Uploaded\n"
    assert CoeditSession.objects.get(pk=first.pk).state == SessionState.CLOSED
    bob = aio(connected(room_url(coedit_server, notes.editor, notes.node)))
    assert bob.content == "Uploaded\n"
    aio(bob.close())
