"""Dot segments in WebDAV paths, sent raw the way an attacker's client would:
``/dav/<space>/..`` resolves to the mount's root, which has no parent; every
method answers with a 4xx (never a 500) and nothing is written anywhere."""

from __future__ import annotations

import socket

import pytest

from portal.files.models import Node

pytestmark = pytest.mark.django_db(transaction=True)

METHODS = ("PUT", "MKCOL", "DELETE", "GET", "PROPPATCH", "LOCK", "MOVE", "COPY")


def _raw(live_dav, auth: tuple[str, str], method: str, target: str, body: bytes = b"x") -> int:
    """One request with the target exactly as given (no client-side dot-segment removal)."""
    import base64

    credentials = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    request = (f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{live_dav.port}\r\n"
               f"Authorization: Basic {credentials}\r\nContent-Length: {len(body)}\r\n"
               f"Destination: {live_dav.dav('/elsewhere.txt')}\r\nConnection: close\r\n\r\n").encode() + body
    with socket.create_connection(("127.0.0.1", live_dav.port), timeout=30) as conn:
        conn.sendall(request)
        status_line = conn.makefile("rb").readline().decode()
    return int(status_line.split()[1])


@pytest.mark.parametrize("segment", ["..", "%2e%2e", "%2E%2E"])
def test_a_dot_dot_segment_below_a_space_is_refused_by_every_method_without_a_server_error(
        live_dav, alice_dav, team, segment):
    before = Node.objects.count()
    for method in METHODS:
        status = _raw(live_dav, alice_dav.auth, method, f"/dav/{team.slug}/{segment}")
        assert 400 <= status < 500, (method, segment, status)
    assert Node.objects.count() == before
