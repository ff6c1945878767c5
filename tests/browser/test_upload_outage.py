"""A large upload in the file browser while the object store goes away for
longer than the uploader's retries: the file shows an error, and once the
store is back it continues the same upload session from the parts the store
holds (no second session, no part sent twice, nothing left in the bucket),
and the error text goes. A private SeaweedFS (never the session's) is stopped."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import call_command
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from portal.files.models import Node, UploadSession
from portal.spaces.services import space_create
from tests.files.support_s3 import MiB, use_s3
from tests.support.seaweed import private_seaweed

ROOT = Path(__file__).resolve().parents[2]
PARTS_BEFORE_OUTAGE = 2


@pytest.fixture(scope="module")
def weed():
    with private_seaweed() as server:
        yield server


@pytest.fixture
def store(settings, live_server, weed):
    if not (ROOT / "static" / "vendor" / ".built").exists():
        pytest.fail("static/vendor/ is not built: run `make static/vendor/.built` (make test does)")
    settings.PUBLIC_URL = live_server.url
    settings.UPLOAD_PART_SIZE = 5 * MiB
    store = use_s3(settings, weed)
    call_command("storage_init")  # the bucket's CORS rule, as an administrator sets it
    return store


def _stored_parts(weed, store, session) -> int:
    return len(weed.client().list_parts(Bucket=store.bucket, Key=session.key,
                                        UploadId=session.multipart_id).get("Parts", []))


def _until(page, condition, what: str, seconds: float = 30) -> None:
    """Poll ``condition`` while the page keeps running (its route handlers included)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        page.wait_for_timeout(200)


def test_a_large_upload_resumes_its_session_after_the_store_was_down_and_clears_its_error(
        signed_in_page, alice, weed, store, console_errors, screenshot):
    space = space_create(actor=alice, name="Outage")
    data = os.urandom(17 * MiB + 4321)  # four parts
    page = signed_in_page(alice)
    page.goto(f"/spaces/{space.pk}/")
    expect(page.locator("#uploader")).to_have_attribute("data-ready", "1")
    part_puts, refused = [], []
    page.on("requestfinished", lambda request: _count_part(request, part_puts))

    def hold_back_late_parts(route):
        number = int(parse_qs(urlsplit(route.request.url).query).get("partNumber", ["0"])[0])
        if route.request.method == "PUT" and number > PARTS_BEFORE_OUTAGE:
            refused.append(number)  # these go once the store is down
            route.abort("connectionrefused")
        else:
            route.continue_()

    page.route(f"{weed.endpoint_url}/**", hold_back_late_parts)
    page.set_input_files("#upload-input", files=[
        {"name": "outage.bin", "mimeType": "application/octet-stream", "buffer": data}])
    _until(page, lambda: UploadSession.objects.filter(space=space).exists(), "the upload session")
    session = UploadSession.objects.get(space=space)
    _until(page, lambda: _stored_parts(weed, store, session) >= PARTS_BEFORE_OUTAGE, "the first parts")
    weed.stop()
    page.unroute(f"{weed.endpoint_url}/**")

    error = page.locator("#upload-errors")
    expect(error).to_contain_text("outage.bin: No answer from the server", timeout=40_000)  # past Uppy's retries
    expect(page.locator("#upload-files .upload-state")).to_contain_text("✗")
    screenshot(page, "store-down")
    weed.start()
    try:  # the person presses Retry (unless the uploader's own timer got there first)
        page.locator("#upload-retry").click(timeout=3_000)
    except PlaywrightTimeout:
        pass

    expect(page.locator("#upload-files .upload-state")).to_contain_text("✓", timeout=60_000)
    expect(error).to_be_empty()
    expect(page.locator("#upload-retry")).to_be_hidden()
    expect(page.locator("#upload-tray")).not_to_have_class("has-errors")
    expect(page.locator("#workspace tbody tr[data-name='outage.bin']")).to_have_count(1, timeout=15_000)
    screenshot(page, "resumed")

    assert list(UploadSession.objects.filter(space=space).values_list("pk", "state")) == [(session.pk, "completed")]
    assert sorted(part_puts) == [1, 2, 3, 4], f"each part stored once, the first two before the outage: {part_puts}"
    assert refused and min(refused) > PARTS_BEFORE_OUTAGE
    version = Node.objects.get(space=space, name="outage.bin").current_version
    with store.open(version.blob.key) as stream:
        assert hashlib.sha256(stream.read()).digest() == hashlib.sha256(data).digest()
    s3 = weed.client()
    assert not s3.list_multipart_uploads(Bucket=store.bucket).get("Uploads")
    assert not weed.staged_parts(store.bucket)
    assert [item["Key"] for item in s3.list_objects_v2(Bucket=store.bucket)["Contents"]] == [version.blob.key]
    # Chromium logs each refused connection; nothing else may have gone wrong in the page.
    assert all("net::ERR_CONNECTION_REFUSED" in line or "503" in line for line in console_errors), console_errors
    console_errors.clear()


def _count_part(request, part_puts: list) -> None:
    """A part PUT the store answered 200 (a failed one ends in requestfailed instead)."""
    query = parse_qs(urlsplit(request.url).query)
    response = request.response() if request.method == "PUT" and "partNumber" in query else None
    if response is not None and response.status == 200:
        part_puts.append(int(query["partNumber"][0]))
