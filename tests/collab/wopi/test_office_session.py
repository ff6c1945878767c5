"""A whole editing session as Collabora Online drives it (its WOPI integration guide): CheckFileInfo,
Lock, GetFile, RefreshLock, PutFile (autosave, then on close), Unlock; and a second user joining."""

from __future__ import annotations

import pytest

from portal.audit.models import AuditEvent
from portal.locks.models import Lock
from tests.collab.wopi.conftest import join, put

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_collabora_editing_session_saves_versions_and_leaves_the_file_unlocked(client_for, alice, bob, team):
    node = put(alice, team, "Minutes.odt", b"PK-v1").node
    join(team, alice, bob, "editor")
    office = client_for(alice, node)
    lock = "cool-lock-7f3a"

    info = office.check_file_info().json()
    assert info["UserCanWrite"] and info["SupportsLocks"]
    assert office.lock(lock).status_code == 200
    assert office.get_file().content == b"PK-v1"
    stamp = info["LastModifiedTime"]

    # a second user opens the same document: the server reuses its one lock
    office_b = client_for(bob, node)
    assert office_b.check_file_info().json()["UserCanWrite"] is True
    assert office_b.lock(lock).status_code == 200

    assert office.refresh_lock(lock).status_code == 200
    autosave = office.put_file(b"PK-v2", lock, **{"X-COOL-WOPI-Timestamp": stamp, "X-COOL-WOPI-IsAutosave": "true",
                                                 "X-COOL-WOPI-IsModifiedByUser": "true"})
    assert autosave.status_code == 200, autosave.text
    stamp = autosave.json()["LastModifiedTime"]
    closing = office_b.put_file(b"PK-v3", lock, **{"X-COOL-WOPI-Timestamp": stamp, "X-COOL-WOPI-IsExitSave": "true"})
    assert closing.status_code == 200, closing.text
    assert office.unlock(lock).status_code == 200

    node.refresh_from_db()
    assert node.current_version.number == 3
    assert not Lock.objects.filter(node=node).exists()
    actions = list(AuditEvent.objects.filter(target_id=str(node.pk), action__startswith="wopi.")
                   .order_by("id").values_list("action", flat=True))
    assert actions == ["wopi.token_issued", "wopi.locked", "wopi.token_issued", "wopi.saved", "wopi.saved",
                       "wopi.unlocked"]
    saved = AuditEvent.objects.filter(action="wopi.saved").order_by("id")
    assert saved[0].details["IsAutosave"] is True and saved[1].details["IsExitSave"] is True
