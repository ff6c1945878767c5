"""The agent never writes a presigned URL's credentials anywhere: not in its
log, not in the failure it reports to the portal. requests names the URL
(query string and all) in its exceptions, so the client is driven against
URLs whose server is not there."""

from __future__ import annotations

import logging
import socket

import pytest
import requests

from sync_agent import cli
from sync_agent.client import Client
from sync_agent.errors import PortalUnreachable

SIGNATURE = "5d41402abc4b2a76b9719d911017c592" * 2
CREDENTIAL = "AKIDEXAMPLE%2F20260101%2Fus-east-1%2Fs3%2Faws4_request"
SESSION = "FQoGZXIvYXdzEXAMPLESESSIONTOKEN"
LOCAL_TOKEN = "eyJrIjoicGFja3MvYWIifQ.c2lnbmF0dXJlLW9mLXRoZS1wb3J0YWw"
SECRETS = (SIGNATURE, "AKIDEXAMPLE", SESSION, LOCAL_TOKEN)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _presigned(port: int) -> str:
    return (f"http://127.0.0.1:{port}/coffer/packs/ab/abcdef?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            f"&X-Amz-Credential={CREDENTIAL}&X-Amz-Date=20260101T000000Z&X-Amz-Expires=900"
            f"&X-Amz-SignedHeaders=host&X-Amz-Security-Token={SESSION}&X-Amz-Signature={SIGNATURE}")


@pytest.fixture
def root_handlers():
    """cli._setup_logging replaces the root logger's handlers: put pytest's back afterwards."""
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    yield
    root.handlers[:] = saved
    root.setLevel(level)


@pytest.mark.parametrize("url_of, shown", [
    (_presigned, "/coffer/packs/ab/abcdef?[redacted]"),
    (lambda port: f"http://127.0.0.1:{port}/storage/put/{LOCAL_TOKEN}", "/storage/put/[redacted]"),
], ids=["s3", "local store"])
def test_a_pack_upload_to_a_dead_store_logs_and_reports_no_credential(caplog, url_of, shown):
    url = url_of(_closed_port())
    client = Client("http://127.0.0.1:1", retries=2)
    with caplog.at_level(logging.WARNING, logger="sync_agent"), pytest.raises(PortalUnreachable) as failed:
        client.put_object(url, b"pack bytes")
    written = caplog.text + "\n" + str(failed.value)  # the report sent to the portal is str(the error)
    assert "retrying" in caplog.text and "ConnectionError" in written
    assert shown in caplog.text and shown in str(failed.value)  # the object is still named
    for secret in SECRETS:
        assert secret not in written, written


def test_a_traceback_of_a_failed_request_reaches_the_log_without_the_signature(root_handlers, capsys):
    cli._setup_logging(verbose=False, quiet=False)
    try:
        requests.get(_presigned(_closed_port()), timeout=5)
    except requests.RequestException:
        logging.getLogger("sync_agent").exception("unexpected error")
    written = capsys.readouterr().err
    assert "unexpected error" in written and "Traceback" in written and "ConnectionError" in written
    for secret in SECRETS:
        assert secret not in written, written
