"""Backups are private to their user, end to end: agents as subprocesses on a
live portal (real HTTP, the local store), the attack made the way the
attacker made it (a colleague's enrolled agent, its own device token, the
portal's device API), and the upgrade of an agent enrolled before key sets
were per user."""

from __future__ import annotations

import base64
import json
import random

import requests

from sync_agent import crypto as agent_crypto

from .conftest import enrollment_token

MiB = 1024 * 1024
SECRET = b"Q3 board minutes: we are acquiring Initech for $40M.\n" * 20  # one chunk (below the minimum size)


def _credentials(agent) -> dict:
    return json.loads((agent.home / "credentials.json").read_text())


def _keys(agent) -> agent_crypto.Keys:
    creds = _credentials(agent)
    return agent_crypto.Keys.from_b64(creds["id_key"], creds["data_key"])


def _enrolled(portal, make_agent, user, name):
    agent = make_agent(name)
    agent("enroll", "--server", portal.url, "--token", enrollment_token(user, name), "--name", name)
    return agent


def _as_device(portal, agent, path, body):
    return requests.post(f"{portal.url}/api/v1{path}", json=body, timeout=30,
                         headers={"Authorization": f"Bearer {_credentials(agent)['device_token']}"})


def test_a_colleagues_agent_can_neither_confirm_nor_fetch_a_file_it_guesses(portal, make_agent, tmp_path):
    from portal.backups.models import Chunk
    from tests.factories import UserFactory

    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    victim, attacker = _enrolled(portal, make_agent, alice, "alice"), _enrolled(portal, make_agent, bob, "bob")
    src = tmp_path / "alice-docs"
    src.mkdir()
    (src / "minutes.txt").write_bytes(SECRET)
    victim("add", str(src))
    victim.json("backup")
    assert _keys(attacker) != _keys(victim)

    guessed = agent_crypto.chunk_id(_keys(attacker), SECRET)   # what bob can compute
    actual = agent_crypto.chunk_id(_keys(victim), SECRET)      # the worst case: alice's very id
    assert Chunk.objects.filter(id=actual, owner=alice).exists()
    for cid in (guessed, actual):
        known = _as_device(portal, attacker, "/backup/chunks/known", {"ids": [cid]})
        assert known.status_code == 200 and known.json() == {"known": []}
        located = _as_device(portal, attacker, "/backup/chunks/locate", {"ids": [cid]})
        assert located.status_code == 200 and located.json() == {"chunks": {}, "missing": [cid]}
    # The attacker's agent sees no snapshot of alice's either.
    assert attacker.json("snapshots") == []
    attacker("restore", "latest", str(src), "--target", str(tmp_path / "loot"), expect=7)  # no such snapshot
    assert not (tmp_path / "loot").exists()
    # Alice's own agent is still answered.
    assert _as_device(portal, victim, "/backup/chunks/known", {"ids": [actual]}).json() == {"known": [actual]}


def test_two_agents_of_one_user_dedup_and_another_users_agent_stores_its_own_copy(portal, make_agent, tmp_path):
    from tests.factories import UserFactory

    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    src = tmp_path / "shared"
    src.mkdir()
    (src / "dataset.bin").write_bytes(random.Random(3).randbytes(4 * MiB))
    runs = {}
    for name, user in (("laptop", alice), ("desktop", alice), ("bobs", bob)):
        agent = _enrolled(portal, make_agent, user, name)
        agent("add", str(src))
        runs[name] = agent.json("backup")
    assert runs["laptop"]["added_bytes"] >= 4 * MiB
    assert runs["desktop"]["added_bytes"] == 0 and runs["desktop"]["packs"] == 0
    assert runs["bobs"]["added_bytes"] >= 4 * MiB


def test_an_agent_enrolled_before_per_user_keys_rekeys_on_next_contact_and_still_restores_old_snapshots(
        portal, make_agent, tmp_path):
    from portal.backups.models import BackupKeySet, Device, Snapshot
    from tests.factories import UserFactory

    alice = UserFactory(username="alice")
    agent = _enrolled(portal, make_agent, alice, "laptop")
    src = tmp_path / "docs"
    src.mkdir()
    (src / "report.txt").write_bytes(b"before the upgrade\n" * 5000)
    (src / "big.bin").write_bytes(random.Random(5).randbytes(2 * MiB))
    agent("add", str(src))
    old = agent.json("backup")

    # What the upgrade leaves: the set these packs were sealed with is the old deployment-wide one,
    # the device points at it, and the agent's credentials (from the old release) name no key set.
    legacy = BackupKeySet.objects.get(user=alice)
    BackupKeySet.objects.filter(pk=legacy.pk).update(user=None, deployment_wide=True)
    assert Device.objects.get().key_set_id == legacy.pk
    creds = _credentials(agent)
    (agent.home / "credentials.json").write_text(json.dumps(
        {"device_token": creds["device_token"], "id_key": creds["id_key"], "data_key": creds["data_key"]}))

    agent("restore", old["snapshot"], str(src), "--target", str(tmp_path / "before"))
    assert (tmp_path / "before" / "docs" / "report.txt").read_bytes() == (src / "report.txt").read_bytes()

    new = agent.json("backup")  # nothing changed on disk, but the keys did: everything goes up again
    assert new["files_read"] == 2 and new["added_bytes"] >= 2 * MiB and new["packs"] >= 1
    current = BackupKeySet.objects.get(user=alice)
    assert current.pk != legacy.pk
    assert Snapshot.objects.get(pk=new["snapshot"]).key_set_id == current.pk
    assert Snapshot.objects.get(pk=old["snapshot"]).key_set_id == legacy.pk
    creds = _credentials(agent)
    assert creds["key_set"] == current.key_id and set(creds["previous"]) == {legacy.key_id}
    assert base64.b64decode(creds["previous"][legacy.key_id]["id_key"]) != base64.b64decode(creds["id_key"])
    assert {s["key_set"] for s in agent.json("snapshots")} == {legacy.key_id, current.key_id}

    for snapshot, where in ((old["snapshot"], "old"), (new["snapshot"], "new")):
        agent("restore", snapshot, str(src), "--target", str(tmp_path / where))
        for name in ("report.txt", "big.bin"):
            assert (tmp_path / where / "docs" / name).read_bytes() == (src / name).read_bytes()
    again = agent.json("backup")  # and dedup works again, within the new key set
    assert again["added_bytes"] == 0 and again["packs"] == 0
