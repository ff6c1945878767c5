"""/dav/ is served by the same WSGI application gunicorn runs (portal.wsgi),
beside Django, with the request's audit context and fresh DB connections."""

from __future__ import annotations

from wsgiref.util import setup_testing_defaults

import pytest

from portal.audit.actions import Action
from tests.helpers import last_event


def call(app, path: str, method: str = "GET", **extra) -> tuple[str, dict, bytes]:
    environ = {"PATH_INFO": path, "REQUEST_METHOD": method, **extra}
    setup_testing_defaults(environ)
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer["status"], answer["headers"] = status, dict(headers)

    body = app(environ, start_response)
    try:
        content = b"".join(body)
    finally:
        if hasattr(body, "close"):
            body.close()
    return answer["status"], answer["headers"], content


@pytest.mark.django_db
def test_portal_wsgi_sends_dav_paths_to_webdav_and_the_rest_to_django():
    from portal.dav.app import DavDispatcher
    from portal.wsgi import application

    assert isinstance(application, DavDispatcher)
    status, headers, _ = call(application, "/dav/", "PROPFIND")
    assert status.startswith("401") and headers["WWW-Authenticate"].startswith("Basic ")
    assert call(application, "/dav")[0].startswith("401")
    status, _, _ = call(application, "/davids-page")  # only /dav and below
    assert not status.startswith("401")


def test_dav_requests_record_the_clients_address_and_agent(dav, alice):
    dav.request("MKCOL", dav.base + "/from-dav", headers={"User-Agent": "Microsoft-WebDAV-MiniRedir/10.0"})
    event = last_event(Action.FOLDER_CREATED, actor=alice)
    assert (event.ip, event.user_agent) == ("127.0.0.1", "Microsoft-WebDAV-MiniRedir/10.0")
