"""A live portal (Django and WebDAV, the same WSGI app gunicorn runs) on a
loopback port for each test, with a user, a token and a team space.

The server runs in a thread of the test process on cheroot, so the test's
database is the server's; tests use ``transactional_db`` since the server
thread must see committed rows. Each server is stopped by its fixture."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest
import requests
from cheroot import wsgi

from portal.accounts.services import token_issue
from portal.spaces.services import space_create


class Finished:
    """Counts requests the server has completely handled, so a test can wait
    for one it cannot see the end of (a client that hung up mid-body)."""

    def __init__(self):
        self.count = 0
        self._changed = threading.Condition()

    def add(self) -> None:
        with self._changed:
            self.count += 1
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 30) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: self.count >= count, timeout), \
                f"the server finished {self.count} requests, not {count}, within {timeout} s"


@dataclass
class LiveDav:
    url: str          # http://127.0.0.1:<port>  (the portal's root)
    thread: threading.Thread
    finished: Finished

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def dav(self, path: str = "/") -> str:
        return f"{self.url}/dav{path}"


def _tracked(app, finished: Finished):
    """The server thread's database connections are closed after each request,
    so none is left open on the test database when the test ends; each
    request's end is counted."""

    def wrapped(environ, start_response):
        from django.db import connections

        body = None
        try:
            body = app(environ, start_response)
            yield from body
        finally:
            if body is not None and hasattr(body, "close"):
                body.close()
            connections.close_all()
            finished.add()

    return wrapped


@pytest.fixture
def live_dav(transactional_db):
    from django.core.wsgi import get_wsgi_application

    from portal.dav.app import DavDispatcher

    finished = Finished()
    app = _tracked(DavDispatcher(get_wsgi_application()), finished)
    server = wsgi.Server(("127.0.0.1", 0), app, numthreads=8,
                         server_name="coffer-test", timeout=30, shutdown_timeout=5)
    # How often the serving loop wakes to expire idle connections, and so how long stop() waits
    # for it: cheroot's 0.5 s was most of the teardown of each of the ~150 tests on this server.
    server.expiration_interval = 0.05
    server.prepare()  # binds: the port is known from here on
    host, port = server.bind_addr[:2]
    thread = threading.Thread(target=server.serve, name="dav-test-server", daemon=True)
    thread.start()
    try:
        yield LiveDav(url=f"http://{host}:{port}", thread=thread, finished=finished)
    finally:
        server.stop()
        thread.join(timeout=10)
    assert not thread.is_alive(), "the test server did not stop"


@dataclass
class DavUser:
    user: object
    token: str

    @property
    def auth(self) -> tuple[str, str]:
        return (self.user.get_username(), self.token)

    def session(self) -> requests.Session:
        session = requests.Session()
        session.auth = self.auth
        return session


@pytest.fixture
def dav_user_of():
    """``dav_user_of(user)`` -> a DavUser with a fresh personal access token."""

    def make(user) -> DavUser:
        _, plaintext = token_issue(actor=user, owner=user, name="webdav")
        return DavUser(user=user, token=plaintext)

    return make


@pytest.fixture
def alice_dav(alice, dav_user_of):
    return dav_user_of(alice)


@pytest.fixture
def team(alice, transactional_db):
    """A team space owned by alice: /dav/team/."""
    return space_create(actor=alice, name="Team")


@pytest.fixture
def dav(live_dav, alice_dav, team):
    """alice's requests session and the URL of her team space's root."""
    session = alice_dav.session()
    session.base = live_dav.dav(f"/{team.slug}")
    yield session
    session.close()
