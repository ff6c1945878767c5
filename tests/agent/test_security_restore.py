"""The agent distrusts the portal: a real `coffer-agent restore` subprocess,
against a live portal that serves a malicious snapshot (its trees stored
directly, the portal's own commit check skipped, as a compromised portal
would), writes nothing outside ``--target`` and exits 10 naming the entry."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from portal.backups.models import Device as DeviceRow, Snapshot
from portal.backups.services import snapshots
from tests.agent.conftest import enrollment_token
from tests.backups.conftest import Device
from tests.backups.malicious import STAMP, Builder, dir_entry, file_entry

pytestmark = pytest.mark.django_db(transaction=True)


def _files_under(root: Path, skip: set[Path]) -> set[str]:
    found = set()
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if Path(folder, d) not in skip]
        found.update(os.path.join(folder, name) for name in files + dirs)
    return found


@pytest.fixture
def served(portal, owner, make_agent, monkeypatch):
    """``served(bad_entries)`` -> an agent whose latest snapshot holds /home/ok.txt and ``bad_entries``
    in /home, each of them writing a file named ``planted`` (wherever it would land)."""
    agent = make_agent()
    agent("enroll", "--server", portal.url, "--token", enrollment_token(owner), "--name", "laptop")
    # A second device of the same user seals the trees with that user's keys; the snapshot is then
    # handed to the agent's device in the database, past the portal's check: the portal is the attacker.
    answer = APIClient().post("/api/v1/backup/enroll", {"token": enrollment_token(owner, "forge"),
                                                        "hostname": "forge", "platform": "linux"}, format="json")
    assert answer.status_code == 201, answer.content
    forge = Device(answer.json())
    monkeypatch.setattr(snapshots, "check_snapshot_trees", lambda reader, root: None)

    def serve(make_bad) -> object:
        builder = Builder(forge)
        ok = builder.data(b"fine")
        home = builder.tree([file_entry("ok.txt", ok, 4), *make_bad(builder)])
        committed = builder.commit(builder.tree([dir_entry("home", home)]))
        assert committed.status_code == 201, committed.content
        target = DeviceRow.objects.exclude(pk=forge.id).get()
        Snapshot.objects.filter(pk=committed.json()["id"]).update(device=target)
        return agent

    return serve


def _planted(builder: Builder, name: str) -> list[dict]:
    return [file_entry(name, builder.data(b"planted"), 7)]


ESCAPE = f"/tmp/coffer-escape-{uuid.uuid4().hex}"
CASES = {
    "parent": lambda b: _planted(b, "../../planted"),
    "absolute": lambda b: _planted(b, ESCAPE),
    "climbing": lambda b: _planted(b, "a/../../planted"),
    "dot-dot": lambda b: [dir_entry("..", b.tree(_planted(b, "planted")))],
    "dot": lambda b: [dir_entry(".", b.tree(_planted(b, "planted")))],
    "empty": lambda b: _planted(b, ""),
    "nul": lambda b: _planted(b, "a\x00b"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_agent_refuses_an_entry_that_would_land_outside_the_target(case, served, tmp_path):
    agent = served(CASES[case])
    target = tmp_path / "deep" / "inside" / "restored"
    target.parent.mkdir(parents=True)
    before = _files_under(tmp_path, {agent.home, target})
    done = agent("restore", "latest", "/", "--target", str(target), expect=10)
    assert "refused to restore" in done.stderr and "/home/" in done.stderr, done.stderr
    after = _files_under(tmp_path, {agent.home, target})
    assert after - before <= {str(agent.log)} and not any("planted" in path for path in after)
    assert not os.path.lexists(ESCAPE)
    assert not any(name == "planted" for _, _, files in os.walk(tmp_path) for name in files)


def test_a_symlink_then_a_folder_written_through_it_is_refused(served, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()

    def link_then_folder(builder: Builder) -> list[dict]:
        return [{"name": "link", "type": "symlink", "mode": 0o777, "mtime_ns": STAMP, "target": str(outside)},
                dir_entry("link", builder.tree(_planted(builder, "planted")))]

    agent = served(link_then_folder)
    target = tmp_path / "restored"
    done = agent("restore", "latest", "/", "--target", str(target), expect=10)
    assert "'/home/link'" in done.stderr and "twice" in done.stderr, done.stderr
    assert list(outside.iterdir()) == []


def test_a_clean_part_of_the_same_snapshot_still_restores(served, tmp_path):
    agent = served(lambda b: [dir_entry("safe", b.tree(_planted(b, "inside.txt")))])
    target = tmp_path / "restored"
    agent("restore", "latest", "/", "--target", str(target))
    assert (target / "home" / "ok.txt").read_bytes() == b"fine"
    assert (target / "home" / "safe" / "inside.txt").read_bytes() == b"planted"
