"""Fixtures for notifications: tasks queued after commit run at once in the
test's process (as a worker would run them), a team with a file, a webhook receiver."""

from __future__ import annotations

import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from portal.files.services.direct import file_put
from portal.spaces.services import member_add, space_create


@pytest.fixture
def eager_celery():
    """Tasks queued with .delay() run in the test's process, as a worker would run them."""
    from portal.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture
def committed(eager_celery, django_capture_on_commit_callbacks):
    """``with committed():`` runs what the block queues for after commit (the
    dispatch and what it queues in turn), as the real commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def team(alice, bob):
    """alice's team space (she owns it); bob an editor in it."""
    space = space_create(actor=alice, name="Finance")
    member_add(actor=alice, space_id=space.pk, username=bob.username, role="editor")
    return space


def put(user, space, path: str, data: bytes = b"x"):
    return file_put(actor=user, space_id=space.pk, path=path, fileobj=io.BytesIO(data), size=len(data))


@pytest.fixture
def doc(team, alice):
    return put(alice, team, "/Q3.xlsx", b"quarter").node


class Receiver:
    """An HTTP receiver on 127.0.0.1: answers the next codes given (then 200) and keeps each request."""

    def __init__(self):
        self.requests: list[dict] = []
        self.codes: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                code = receiver.codes.pop(0) if receiver.codes else 200
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # shutdown() waits for the serving loop to look up: every 0.05 s, not the default 0.5 s, each test
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def json(self, index: int = -1) -> dict:
        return json.loads(self.requests[index]["body"])


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.WEBHOOK_RETRY_SECONDS = 0
    found = Receiver()
    found.thread.start()
    yield found
    found.server.shutdown()
    found.server.server_close()
    found.thread.join(timeout=10)
