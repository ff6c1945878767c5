"""Part uploads through a real gunicorn (gthread workers, as the Procfile runs
the portal), where a part's body is read straight from the socket: the bytes
land exactly, and a keep-alive connection stays in step after a refused or a
cut-short part."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
MiB = 1024 * 1024
SLOT = 5 * MiB


@dataclass
class Gunicorn:
    host: str
    port: int
    root: Path

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=60)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory):
    root = tmp_path_factory.mktemp("gunicorn-objects")
    port = _free_port()
    env = {**os.environ, "PORTAL_STORAGE_ROOT": str(root), "PORTAL_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    log = open(root.parent / "gunicorn.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "portal.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "--threads", "2", "--worker-class", "gthread", "--timeout", "120"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_until_it_answers(process, f"http://127.0.0.1:{port}/storage/o/not-a-token", root.parent / "gunicorn.log")
        yield Gunicorn("127.0.0.1", port, root)
    finally:
        process.terminate()
        process.wait(30)
        log.close()


def _wait_until_it_answers(process, url: str, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, f"gunicorn exited:\n{log.read_text(errors='replace')[-3000:]}"
        try:
            if requests.get(url, timeout=30).status_code == 403:  # a bad token: the portal is up
                return
        except (requests.ConnectionError, requests.Timeout):  # still starting (the first request loads Django)
            pass
        time.sleep(0.2)
    raise AssertionError(f"gunicorn did not answer within 120 s:\n{log.read_text(errors='replace')[-3000:]}")


@pytest.fixture
def store(settings, gunicorn):
    """The test's view of the store gunicorn serves (same folder, same signing key)."""
    from portal.storage import get_store

    settings.STORAGE_ROOT = gunicorn.root
    return get_store()


def _part_path(store, key: str, upload: str, number: int) -> str:
    return urlsplit(store.multipart_part_url(key, upload, number)).path


def _put(connection, path: str, body: bytes) -> tuple[int, dict, bytes]:
    connection.request("PUT", path, body=body, headers={"Content-Type": "application/octet-stream"})
    answer = connection.getresponse()
    return answer.status, dict(answer.getheaders()), answer.read()


def test_parts_sent_over_one_keep_alive_connection_make_the_object(store, gunicorn):
    parts = {1: os.urandom(SLOT), 2: os.urandom(SLOT), 3: os.urandom(MiB + 7)}
    upload = store.multipart_start("gunicorn/whole", part_size=SLOT)
    connection = gunicorn.connection()
    etags = {}
    for number in (3, 1, 2):
        status, headers, _ = _put(connection, _part_path(store, "gunicorn/whole", upload, number), parts[number])
        assert status == 200
        etags[number] = headers["ETag"]
    connection.close()
    assert store.multipart_complete("gunicorn/whole", upload, sorted(etags.items())) == 2 * SLOT + MiB + 7
    with store.open("gunicorn/whole") as stored:
        assert stored.read() == parts[1] + parts[2] + parts[3]


def _read_answer(reader) -> tuple[int, dict, bytes]:
    status = int(reader.readline().split()[1])
    headers = {}
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, reader.read(int(headers["content-length"]))


def test_pipelined_parts_are_each_read_to_their_end_and_no_further(store, gunicorn):
    """Both requests go out in one write, so gunicorn reads the second one's
    start along with the first one's body: it must stay for gunicorn's parser."""
    parts = {1: os.urandom(SLOT), 2: os.urandom(100)}
    upload = store.multipart_start("gunicorn/pipelined", part_size=SLOT)
    wire = b"".join(
        f"PUT {_part_path(store, 'gunicorn/pipelined', upload, n)} HTTP/1.1\r\nHost: {gunicorn.host}\r\n"
        f"Content-Length: {len(parts[n])}\r\n\r\n".encode() + parts[n] for n in (1, 2))
    with socket.create_connection((gunicorn.host, gunicorn.port), timeout=60) as sock:
        sock.sendall(wire)
        reader = sock.makefile("rb")
        answers = [_read_answer(reader) for _ in (1, 2)]
    assert [status for status, _, _ in answers] == [200, 200]
    etags = [(n, answers[n - 1][1]["etag"]) for n in (1, 2)]
    store.multipart_complete("gunicorn/pipelined", upload, etags)
    with store.open("gunicorn/pipelined") as stored:
        assert stored.read() == parts[1] + parts[2]


def test_a_part_cut_short_is_refused_and_not_listed(store, gunicorn):
    upload = store.multipart_start("gunicorn/short", part_size=SLOT)
    path = _part_path(store, "gunicorn/short", upload, 1)
    with socket.create_connection((gunicorn.host, gunicorn.port), timeout=60) as sock:
        sock.sendall(f"PUT {path} HTTP/1.1\r\nHost: {gunicorn.host}\r\nContent-Length: {SLOT}\r\n\r\n".encode())
        sock.sendall(b"z" * MiB)
        sock.shutdown(socket.SHUT_WR)  # the client gives up mid-body
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert json.loads(body)["code"] == "incomplete_body"
    assert store.multipart_list_parts("gunicorn/short", upload) == []
