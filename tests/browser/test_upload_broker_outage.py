"""Uploads in the file browser while the Celery broker (a private
redis-server, never the machine's) is down: the browser says they worked,
and once Redis is back a worker hashes every file, whose follow-up waited
in the outbox meanwhile."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import expect

from portal.files.models import Node
from portal.outbox.models import OutboxMessage
from portal.spaces.services import space_create
from tests.files.support_s3 import MiB
from tests.outbox.conftest import use_broker
from tests.support.coedit import server_env

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 60


@pytest.fixture
def broker(private_redis):
    """A private redis-server as this process's broker (the live server publishes to it)."""
    original = django_settings.CELERY_BROKER_URL
    use_broker(private_redis.url())
    yield private_redis
    use_broker(original)


def _worker(env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "celery", "-A", "portal", "worker", "-P", "solo", "-l", "WARNING",
                             "--without-gossip", "--without-mingle", "--without-heartbeat"],
                            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def _hashed(space, expected: dict[str, str]) -> bool:
    found = dict(Node.objects.filter(space=space, kind="file").values_list("name", "current_version__blob__sha256"))
    return found == expected


def test_browser_uploads_succeed_while_the_broker_is_down_and_are_hashed_once_it_is_back(
        settings, live_server, signed_in_page, alice, broker, tmp_path, console_errors):
    if not (ROOT / "static" / "vendor" / ".built").exists():
        pytest.fail("static/vendor/ is not built: run `make static/vendor/.built` (make test does)")
    settings.PUBLIC_URL = live_server.url
    settings.UPLOAD_PART_SIZE = 5 * MiB
    space = space_create(actor=alice, name="Broker")
    files = {"small.txt": b"one request, while Redis is down\n", "large.bin": os.urandom(6 * MiB + 99)}
    page = signed_in_page(alice)
    page.goto(f"/spaces/{space.pk}/")
    expect(page.locator("#uploader")).to_have_attribute("data-ready", "1")

    broker.stop()
    page.set_input_files("#upload-input", files=[
        {"name": name, "mimeType": "application/octet-stream", "buffer": data} for name, data in files.items()])
    expect(page.locator("#upload-files .upload-state", has_text="✓")).to_have_count(2, timeout=45_000)
    expect(page.locator("#upload-errors")).to_be_empty()
    expect(page.locator("#workspace tbody tr[data-name]")).to_have_count(2, timeout=15_000)
    assert OutboxMessage.objects.filter(sent_at__isnull=True).exists()  # refused by the broker: kept
    assert not _hashed(space, {name: hashlib.sha256(data).hexdigest() for name, data in files.items()})

    broker.start()  # back, and empty
    log = tmp_path / "worker.log"
    worker = _worker(server_env(PORTAL_REDIS_URL=broker.url(), PORTAL_STORAGE_ROOT=str(settings.STORAGE_ROOT)), log)
    try:  # a starting worker asks for a relay of what the outbox holds
        deadline = time.monotonic() + DEADLINE
        expected = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
        while not _hashed(space, expected):
            assert time.monotonic() < deadline, f"not hashed within {DEADLINE} s:\n{log.read_text()[-3000:]}"
            time.sleep(0.3)  # polling the worker's effect until the deadline
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(30)
