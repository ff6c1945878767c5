"""End-to-end fixtures: a live portal on loopback (pytest-django's
``live_server``) with its own storage folder or SeaweedFS bucket, and agents
run as subprocesses (``python -m sync_agent``), each with its own
COFFER_AGENT_HOME under tmp_path."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Portal:
    url: str
    store: object


@pytest.fixture
def portal(transactional_db, live_server, settings, tmp_path):
    """The live portal on the local store (its signed PUT URLs point at the live server)."""
    from tests.files.support_s3 import use_local

    store = use_local(settings, tmp_path / "objects", live_server.url)
    return Portal(live_server.url, store)


@pytest.fixture
def portal_s3(transactional_db, live_server, settings, seaweed):
    """The live portal on SeaweedFS: packs go to presigned S3 URLs, never through Django."""
    from tests.files.support_s3 import use_s3

    settings.PUBLIC_URL = live_server.url
    store = use_s3(settings, seaweed)
    return Portal(live_server.url, store)


@pytest.fixture
def owner(transactional_db):
    from tests.factories import UserFactory

    return UserFactory(username="dana")


def enrollment_token(owner, name: str = "laptop") -> str:
    from portal.backups.services.devices import enrollment_token_create

    return enrollment_token_create(actor=None, owner=owner, name=name)[1]


class AgentProcess:
    """``agent("backup")`` runs ``python -m sync_agent backup`` to completion;
    ``agent.start("run")`` returns the running Popen."""

    def __init__(self, home: Path, tmp: Path):
        self.home = home
        self.log = tmp / f"{home.name}.log"
        self.env = {**os.environ, "COFFER_AGENT_HOME": str(home), "PYTHONPATH": str(ROOT),
                    "HOME": str(tmp / "user-home")}
        self.env.pop("DBUS_SESSION_BUS_ADDRESS", None)

    def __call__(self, *args: str, expect: int = 0, timeout: float = 180) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "sync_agent", *args], env=self.env, capture_output=True,
                              text=True, timeout=timeout, cwd=ROOT)
        if done.returncode != expect:
            raise AssertionError(f"`{' '.join(args)}` exited {done.returncode}, not {expect}:\n"
                                 f"{done.stdout}\n{done.stderr}")
        return done

    def json(self, *args: str):
        return json.loads(self(*args, "--json").stdout)

    def start(self, *args: str) -> subprocess.Popen:
        out = open(self.log, "ab")
        return subprocess.Popen([sys.executable, "-m", "sync_agent", *args], env=self.env, stdout=out,
                                stderr=subprocess.STDOUT, cwd=ROOT)

    def set(self, **settings) -> None:
        path = self.home / "config.json"
        config = json.loads(path.read_text())
        config.update(settings)
        path.write_text(json.dumps(config))


@pytest.fixture
def make_agent(tmp_path):
    made = []

    def make(name: str = "agent") -> AgentProcess:
        agent = AgentProcess(tmp_path / name, tmp_path)
        made.append(agent)
        return agent

    return make


@pytest.fixture
def enrolled(portal, owner, make_agent):
    """An agent enrolled on the live portal (local store)."""
    agent = make_agent()
    agent("enroll", "--server", portal.url, "--token", enrollment_token(owner), "--name", "laptop")
    return agent


def stop(process: subprocess.Popen, timeout: float = 60) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=timeout)


def wait_for(condition, *, timeout: float = 30, every: float = 0.1, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)  # polling a condition until its deadline
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


# --- comparing folders --------------------------------------------------------------------
def describe(root: Path) -> dict:
    """Everything a restore must bring back: type, mode, mtime, content or target, per path."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames + ([] if Path(dirpath) != root else ["."]):
            path = Path(dirpath) / name if name != "." else root
            st = os.lstat(path)
            rel = str(path.relative_to(root))
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(path), st.st_mtime_ns)
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode), st.st_mtime_ns)
            else:
                out[rel] = ("file", stat.S_IMODE(st.st_mode), st.st_mtime_ns, path.read_bytes())
    return out


def make_sample(root: Path) -> Path:
    """A folder with what backups get wrong: modes, symlinks, empty folders, a big file, odd names."""
    (root / "docs" / "deep" / "deeper").mkdir(parents=True)
    (root / "empty" / "also-empty").mkdir(parents=True)
    (root / "docs" / "report.txt").write_text("quarterly numbers\n" * 1000)
    (root / "docs" / "deep" / "deeper" / "note.md").write_text("deep note")
    (root / "docs" / "zero.bin").write_bytes(b"")
    (root / "docs" / "ünïcode name.txt").write_text("names")
    script = root / "run.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o750)
    secret = root / "private.key"
    secret.write_bytes(os.urandom(1000))
    secret.chmod(0o600)
    (root / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    os.symlink("docs/report.txt", root / "link-to-report")
    os.symlink("/nowhere/at/all", root / "dangling")
    (root / "Thumbs.db").write_bytes(b"excluded by default")
    readonly = root / "docs" / "deep"
    os.utime(root / "docs" / "report.txt", ns=(1_600_000_000_123_456_789, 1_600_000_000_123_456_789))
    readonly.chmod(0o555)
    return root
