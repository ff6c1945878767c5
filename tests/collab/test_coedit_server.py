"""The co-editing server with real clients over real websockets: editing
together, followers, what is stored and written back, and who gets in."""

from __future__ import annotations

import pytest

from portal.audit.actions import Action
from portal.collab.models import CoeditSession, SessionState
from portal.files.models import FileVersion
from tests.collab.conftest import connected, eventually, room_url, run
from tests.helpers import events

pytestmark = [pytest.mark.postgres]


def _version_text(node) -> str:
    from portal.storage import get_store

    node.refresh_from_db()
    with get_store().open(node.current_version.blob.key) as stream:
        return stream.read().decode()


def test_two_editors_typing_at_once_end_with_the_same_text_written_as_a_version_by_both(coedit_server, notes):
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
    assert _version_text(notes.node) == final
    version = FileVersion.objects.get(pk=notes.node.current_version_id)
    assert {user.username for user in version.coauthors.all()} == {"alice", "bob"}
    assert len(events(Action.COEDIT_JOINED)) == 2
    assert len(events(Action.COEDIT_LEFT)) == 2
    (saved,) = events(Action.COEDIT_SAVED)
    assert set(saved.details["coauthors"].split(", ")) == {"alice", "bob"}
