"""Co-editing tests run the real websocket server (``python -m
portal.collab.server``, uvicorn) as its own process on the test database, and
talk to it over real websockets (tests/support/yclient.py, or Chromium)."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests
from django.db import connection

from portal.collab.access import member_participation
from portal.collab.services import session_open
from portal.collab.tickets import ticket_issue
from portal.core.access import Cap
from portal.files.selectors import locate_node
from portal.files.services.direct import file_put
from portal.spaces.services import member_add, space_create
from tests.support.yclient import YClient

ROOT = Path(__file__).resolve().parents[2]
START_DEADLINE = 120  # seconds; a loaded machine starts Django slowly
SERVER_SETTINGS = {"PORTAL_COEDIT_CLOSE_GRACE_SECONDS": "0", "PORTAL_COEDIT_RECHECK_SECONDS": "1",
                   "PORTAL_COEDIT_HEARTBEAT_SECONDS": "1"}


def server_env(**extra) -> dict:
    """This process's settings, pointed at the test database."""
    env = dict(os.environ)
    url = urlparse(env["PORTAL_DATABASE_URL"])
    env["PORTAL_DATABASE_URL"] = url._replace(path="/" + connection.settings_dict["NAME"]).geturl()
    env["PYTHONPATH"] = str(ROOT)
    env.update(SERVER_SETTINGS)
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class CoeditServer:
    port: int
    process: subprocess.Popen

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/coedit/ws"

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would: no cleanup runs."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def _serving(server: CoeditServer) -> None:
    deadline = time.monotonic() + START_DEADLINE
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"the co-editing server exited with {server.process.returncode}")
        try:
            if requests.get(f"http://127.0.0.1:{server.port}/coedit/health", timeout=5).status_code == 200:
                return
        except requests.ConnectionError:
            time.sleep(0.1)  # polling for the port to open, with a deadline
    raise AssertionError(f"the co-editing server did not answer within {START_DEADLINE} s")


@pytest.fixture
def coedit_servers(transactional_db):
    """``start(port=None, **env)`` runs one more server; all are stopped after the test."""
    started: list[CoeditServer] = []

    def start(port: int | None = None, **env) -> CoeditServer:
        port = port or free_port()
        process = subprocess.Popen([sys.executable, "-m", "portal.collab.server", "--bind", f"127.0.0.1:{port}"],
                                   cwd=ROOT, env=server_env(**env), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=None, start_new_session=True)
        server = CoeditServer(port=port, process=process)
        started.append(server)
        _serving(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def coedit_server(coedit_servers):
    return coedit_servers()


@dataclass
class SharedFile:
    space: object
    node: object
    owner: object
    editor: object
    viewer: object


@pytest.fixture
def notes(transactional_db, make_user):
    """/notes.md ("Hello\\n") in a space of alice (owner) with bob (editor) and carol (viewer)."""
    alice, bob, carol = (make_user(username=name, first_name=name.title()) for name in ("alice", "bob", "carol"))
    space = space_create(actor=alice, name="Team")
    member_add(actor=alice, space_id=space.pk, username="bob", role="editor")
    member_add(actor=alice, space_id=space.pk, username="carol", role="viewer")
    body = b"Hello\n"
    version = file_put(actor=alice, space_id=space.pk, path="/notes.md", fileobj=io.BytesIO(body), size=len(body))
    return SharedFile(space=space, node=version.node, owner=alice, editor=bob, viewer=carol)


def room_url(server: CoeditServer, user, node) -> str:
    """What the editor page gives ``user``'s browser: the room's URL with a fresh ticket."""
    participation = member_participation(locate_node(user, node.pk, Cap.FILE_READ), user)
    session = session_open(participation=participation)
    ticket = ticket_issue(node_id=node.pk, session_id=session.pk, user=user)
    return f"{server.ws_url}/{node.pk}?ticket={ticket}"


def version_text(node) -> str:
    """The text of the file's current version, read from the store."""
    from portal.storage import get_store

    node.refresh_from_db()
    with get_store().open(node.current_version.blob.key) as stream:
        return stream.read().decode()


def eventually(predicate, timeout: float = 30.0, what: str = "the condition") -> None:
    """Poll the database (or anything) until ``predicate()`` holds, with a deadline."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Loop:
    """One event loop for a test's websocket clients, run step by step: the
    test checks the database between steps (Django's ORM is not for async
    code) while the clients stay connected."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()

    def __call__(self, coroutine):
        return self.loop.run_until_complete(coroutine)

    def close(self):
        pending = [task for task in asyncio.all_tasks(self.loop) if not task.done()]
        for task in pending:
            task.cancel()

        async def settle():
            await asyncio.gather(*pending, return_exceptions=True)

        self.loop.run_until_complete(settle())
        self.loop.close()


@pytest.fixture
def aio():
    loop = Loop()
    yield loop
    loop.close()


def run(coroutine):
    return asyncio.run(coroutine)


async def connected(url: str, **options) -> YClient:
    client = await YClient(url, **options).connect()
    await asyncio.wait_for(client.synced.wait(), 30)
    return client
