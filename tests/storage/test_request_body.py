"""Request bodies written into files: straight from gunicorn's socket (with
gunicorn's own reader objects on a real socket pair), through the request
otherwise, and with or without O_DIRECT."""

from __future__ import annotations

import os
import socket
import threading

import pytest
from django.core.handlers.wsgi import WSGIRequest
from django.test import RequestFactory
from gunicorn.http.body import Body, LengthReader
from gunicorn.http.unreader import SocketUnreader

from portal.storage import local_slots, request_body
from portal.storage.request_body import ALIGN, TooLong, write_at

MiB = 1024 * 1024


class Wire:
    """A socket pair: the server end wrapped in gunicorn's body reader, as
    gunicorn hands it to the application, the client end sending from a thread."""

    def __init__(self, length: int, *, read_ahead: bytes = b""):
        self.server, self.client = socket.socketpair()
        self.unreader = SocketUnreader(self.server)
        if read_ahead:  # what gunicorn's parser read past the headers
            self.unreader.unread(read_ahead)
        self.reader = LengthReader(self.unreader, length)
        self.body = Body(self.reader)
        self.request = WSGIRequest({
            "REQUEST_METHOD": "PUT", "PATH_INFO": "/storage/part/x", "CONTENT_LENGTH": str(length),
            "SERVER_NAME": "testserver", "SERVER_PORT": "80", "wsgi.url_scheme": "http",
            "wsgi.input": self.body, "gunicorn.socket": self.server,
        })
        self.sender = None

    def send(self, data: bytes, *, then_close: bool = False) -> None:
        def run():
            self.client.sendall(data)
            if then_close:
                self.client.shutdown(socket.SHUT_WR)
        self.sender = threading.Thread(target=run, daemon=True)
        self.sender.start()

    def __enter__(self) -> "Wire":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.sender:
            self.sender.join(10)
        self.server.close()
        self.client.close()


@pytest.fixture
def target(tmp_path):
    path = tmp_path / "data"
    path.touch()
    fd = os.open(path, os.O_RDWR)
    direct = local_slots._open_direct(path)
    yield path, fd, direct
    os.close(fd)
    if direct is not None:
        os.close(direct)


def test_a_gunicorn_body_is_read_from_the_socket_and_the_next_request_stays_for_gunicorn(target):
    path, fd, direct = target
    data = os.urandom(3 * MiB + 123)
    with Wire(len(data), read_ahead=data[:1000]) as wire:
        assert request_body._gunicorn_socket(wire.request) is not None, "gunicorn's body is read from its socket"
        wire.send(data[1000:] + b"GET /next HTTP/1.1\r\n")
        assert write_at(wire.request, fd, 2 * MiB, limit=4 * MiB, direct_fd=direct) == len(data)
        assert wire.reader.length == 0 and not wire.body.failed
        assert os.pread(fd, len(data), 2 * MiB) == data
        assert wire.body.read(100) == b"", "gunicorn sees the body as read"
        assert wire.unreader.read(20) == b"GET /next HTTP/1.1\r\n", "the next request is left on the socket"


def test_bytes_read_past_a_short_body_stay_for_the_next_request(target):
    path, fd, direct = target
    with Wire(10, read_ahead=b"0123456789GET / HTTP/1.1\r\n") as wire:
        assert write_at(wire.request, fd, 0, limit=100, direct_fd=direct) == 10
        assert os.pread(fd, 100, 0) == b"0123456789"
        assert wire.unreader.read(16) == b"GET / HTTP/1.1\r\n"


def test_a_body_cut_short_is_written_short_and_the_connection_is_not_reused(target):
    path, fd, direct = target
    with Wire(2 * MiB) as wire:
        wire.send(b"x" * (MiB + 5), then_close=True)
        assert write_at(wire.request, fd, 0, limit=4 * MiB, direct_fd=direct) == MiB + 5
        assert wire.body.failed, "gunicorn closes the connection instead of parsing the rest"
        assert os.pread(fd, 2 * MiB, 0) == b"x" * (MiB + 5)


def test_a_body_over_the_limit_is_refused_before_a_byte_is_read(target):
    path, fd, direct = target
    with Wire(100, read_ahead=b"a" * 100) as wire:
        with pytest.raises(TooLong):
            write_at(wire.request, fd, 0, limit=99, direct_fd=direct)
        assert os.path.getsize(path) == 0
        assert wire.body.read(200) == b"a" * 100, "gunicorn can still drain it"


def test_a_body_someone_started_to_read_goes_through_the_request(target):
    path, fd, direct = target
    with Wire(20, read_ahead=b"0123456789abcdefghij") as wire:
        assert wire.request.read(5) == b"01234"
        assert request_body._gunicorn_socket(wire.request) is None
        assert write_at(wire.request, fd, 0, limit=100, direct_fd=direct) == 15
        assert os.pread(fd, 100, 0) == b"56789abcdefghij"


def test_a_request_from_another_server_is_read_in_chunks():
    request = RequestFactory().generic("PUT", "/storage/part/x", b"hello", content_type="application/octet-stream")
    assert request_body._gunicorn_socket(request) is None


@pytest.mark.parametrize("offset", [0, 3 * ALIGN, 5], ids=["start", "aligned", "unaligned"])
@pytest.mark.parametrize("length", [0, 1, ALIGN, 2 * MiB, 2 * MiB + 4097], ids=str)
def test_every_offset_and_length_lands_exactly_with_or_without_odirect(target, offset, length):
    path, fd, direct = target
    data = os.urandom(length)
    with Wire(length) as wire:
        wire.send(data)
        assert write_at(wire.request, fd, offset, limit=length, direct_fd=direct) == length
        assert os.path.getsize(path) == (offset + length if length else 0)
        assert os.pread(fd, length + 10, offset) == data


def test_a_file_that_refuses_a_write_is_the_disks_fault_not_the_clients(tmp_path):
    path = tmp_path / "read-only"
    path.touch()
    fd = os.open(path, os.O_RDONLY)
    wire = Wire(10, read_ahead=b"0123456789")
    try:
        with pytest.raises(request_body.WriteFailed):
            write_at(wire.request, fd, 0, limit=10)
    finally:
        os.close(fd)
        wire.close()
