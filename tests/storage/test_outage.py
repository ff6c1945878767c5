"""When the object store does not answer, callers get StorageUnavailable in
seconds, with a message that says so, never a botocore exception or a hang."""

from __future__ import annotations

import io
import socket
import threading
import time

import pytest

from portal.core.errors import StorageUnavailable
from tests.storage.conftest import TEST_BUCKET, s3_store

OPERATIONS = {
    "put": lambda store: store.put("k", io.BytesIO(b"x")),
    "open": lambda store: store.open("k"),
    "check": lambda store: store.check(),
    "exists": lambda store: store.exists("k"),
    "delete": lambda store: store.delete("k"),
    "iter_objects": lambda store: list(store.iter_objects()),
    "multipart_start": lambda store: store.multipart_start("k"),
    "multipart_complete": lambda store: store.multipart_complete("k", "u", [(1, '"e"')]),
}


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


@pytest.fixture
def silent_server():
    """A port that accepts connections and never answers: a hung store."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def unreachable(port: int, **options):
    from portal.storage.s3 import S3ObjectStore

    return S3ObjectStore(f"http://127.0.0.1:{port}", "coffer", "us-east-1", "key", "secret", **options)


def timed(call) -> tuple[BaseException, float]:
    started = time.monotonic()
    with pytest.raises(StorageUnavailable) as caught:
        call()
    return caught.value, time.monotonic() - started


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_closed_port_raises_storage_unavailable_within_seconds(closed_port, operation):
    error, elapsed = timed(lambda: OPERATIONS[operation](unreachable(closed_port)))
    assert elapsed < 5
    assert error.status == 503 and "not answering" in error.message


@pytest.mark.parametrize("operation", ["put", "open", "check"])
def test_a_store_that_never_answers_times_out_as_unavailable(silent_server, operation):
    store = unreachable(silent_server, connect_timeout=1, read_timeout=1)
    error, elapsed = timed(lambda: OPERATIONS[operation](store))
    assert elapsed < 10
    assert "not answering" in error.message


def test_a_download_cut_off_mid_body_is_unavailable_not_a_short_file():
    """The store sends headers and part of the body, then the connection drops."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)

        def serve_half():
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nETag: \"e\"\r\n\r\n" + b"x" * 100)

        server = threading.Thread(target=serve_half, daemon=True)
        server.start()
        # A short read timeout: the S3 client asks once more for the rest, and nobody answers that.
        stream = unreachable(listener.getsockname()[1], read_timeout=2).open("k")
        with pytest.raises(StorageUnavailable):
            stream.read()
        server.join(5)


def test_wrong_credentials_are_reported_as_a_configuration_problem(seaweed, s3_bucket):
    from portal.storage.s3 import S3ObjectStore

    store = S3ObjectStore(seaweed.endpoint_url, s3_bucket, seaweed.region, seaweed.access_key, "wrong-secret")
    with pytest.raises(StorageUnavailable) as caught:
        store.put("k", io.BytesIO(b"x"))
    assert "credentials" in caught.value.message


def test_a_missing_bucket_fails_the_check_until_ensure_bucket_creates_it(seaweed, s3_bucket):
    store = s3_store(seaweed, f"{TEST_BUCKET}-{int(time.time() * 1000)}")
    with pytest.raises(StorageUnavailable) as caught:
        store.check()
    assert store.bucket in caught.value.message
    with pytest.raises(StorageUnavailable):
        store.put("k", io.BytesIO(b"x"))
    store.ensure_bucket()
    store.check()
    store.put("k", io.BytesIO(b"x"))
    store.delete("k")
    store.client.delete_bucket(Bucket=store.bucket)
