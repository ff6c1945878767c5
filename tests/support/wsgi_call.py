"""One request through the portal's whole WSGI application (Django and
WebDAV, as gunicorn runs it), in the test's own thread and transaction."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from wsgiref.util import setup_testing_defaults


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def portal_app(monkeypatch):
    """The WSGI app; WebDAV's per-request connection recycling is left out, since
    closing the connection would end the test's transaction."""
    from django.core.wsgi import get_wsgi_application

    from portal.dav import app as dav_app

    monkeypatch.setattr(dav_app, "close_old_connections", lambda: None)
    return dav_app.DavDispatcher(get_wsgi_application())


def call(app, method: str, path: str, *, auth: tuple[str, str] | None = None, body: bytes = b"",
         headers: dict[str, str] | None = None) -> Answer:
    environ: dict = {}
    setup_testing_defaults(environ)
    environ.update({"REQUEST_METHOD": method, "PATH_INFO": path, "REMOTE_ADDR": "192.0.2.9",
                    "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body)})
    if auth:
        environ["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    started: dict = {}

    def start_response(status, response_headers, exc_info=None):
        started.update(status=int(status.split()[0]), headers=dict(response_headers))

    chunks = app(environ, start_response)
    try:
        data = b"".join(chunks)
    finally:
        if hasattr(chunks, "close"):
            chunks.close()
    return Answer(started["status"], started["headers"], data)
