"""Many small files dropped on the file browser in a real browser: each one
arrives whole, in one request, and the listing is refreshed once at the end."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from portal.files.models import Node
from portal.spaces.services import space_create
from portal.storage import get_store

ROOT = Path(__file__).resolve().parents[2]
COUNT = 30

# Files made in the page, in a DataTransfer as a drop from the desktop carries them.
_MAKE_DROP = """(count) => {
  const transfer = new DataTransfer();
  for (let i = 0; i < count; i++) {
    const name = `note-${String(i).padStart(2, "0")}.txt`;
    transfer.items.add(new File([`note ${i}\\n`], name, { type: "text/plain" }));
  }
  return transfer;
}"""


@pytest.fixture(autouse=True)
def _portal_urls(settings, live_server):
    if not (ROOT / "static" / "vendor" / ".built").exists():
        pytest.fail("static/vendor/ is not built: run `make static/vendor/.built` (make test does)")
    settings.PUBLIC_URL = live_server.url


def _ready(page) -> None:
    expect(page.locator("#uploader")).to_have_attribute("data-ready", "1")


def _drop(page, count: int) -> None:
    """A real drop event on the file list (the whole list takes drops), as the desktop's file manager sends it."""
    transfer = page.evaluate_handle(_MAKE_DROP, count)
    zone = page.locator("#workspace")
    for event in ("dragenter", "dragover", "drop"):
        zone.dispatch_event(event, {"dataTransfer": transfer})


def _watch(page) -> list:
    requests = []
    page.on("request", lambda request: requests.append((request.method, urlsplit(request.url))))
    return requests


def test_thirty_small_files_dropped_all_arrive_one_request_each_and_the_listing_refreshes_once(
        signed_in_page, alice, console_errors, screenshot):
    space = space_create(actor=alice, name="Notes")
    page = signed_in_page(alice)
    page.goto(f"/spaces/{space.pk}/")
    _ready(page)
    requests = _watch(page)

    _drop(page, COUNT)
    expect(page.locator("#upload-files li")).to_have_count(COUNT)
    expect(page.locator("#upload-percent")).to_have_text("100 %", timeout=120_000)
    expect(page.locator("#upload-files .upload-state", has_text="✓")).to_have_count(COUNT)
    expect(page.locator("#workspace tbody tr[data-name]")).to_have_count(COUNT, timeout=30_000)
    expect(page.locator("#upload-errors")).to_be_empty()
    screenshot(page, "thirty-dropped")

    stored = {node.name: node for node in Node.objects.filter(space=space, kind="file")}
    assert sorted(stored) == [f"note-{i:02d}.txt" for i in range(COUNT)]
    store = get_store()
    for i in range(COUNT):
        node = stored[f"note-{i:02d}.txt"]
        with store.open(node.current_version.blob.key) as body:
            assert body.read() == f"note {i}\n".encode()

    puts = [url for method, url in requests if method == "PUT"]
    assert len(puts) == COUNT and all(url.path == f"/spaces/{space.pk}/upload" for url in puts)
    assert sorted(parse_qs(url.query)["path"][0] for url in puts) == [f"/note-{i:02d}.txt" for i in range(COUNT)]
    assert not [url for method, url in requests if url.path.startswith("/api/v1/uploads")]
    refreshes = [url for method, url in requests if method == "GET" and url.path == f"/spaces/{space.pk}/"]
    assert len(refreshes) == 1


def test_a_drop_into_a_subfolder_lands_there(signed_in_page, alice, console_errors):
    space = space_create(actor=alice, name="Team")
    page = signed_in_page(alice)
    page.goto(f"/spaces/{space.pk}/")
    page.get_by_role("button", name="New folder").click()
    page.get_by_label("Folder name").fill("Inbox")
    page.get_by_role("button", name="Create folder").click()
    page.get_by_role("link", name="Inbox").click()
    expect(page.locator(".crumbs")).to_contain_text("Inbox")
    _ready(page)

    _drop(page, 3)
    expect(page.locator("#workspace tbody tr[data-name]")).to_have_count(3, timeout=60_000)
    inbox = Node.objects.get(space=space, name="Inbox")
    assert sorted(Node.objects.filter(parent=inbox).values_list("name", flat=True)) == [
        "note-00.txt", "note-01.txt", "note-02.txt"]


def test_a_small_file_whose_connection_drops_is_sent_again(signed_in_page, alice, console_errors):
    space = space_create(actor=alice, name="Flaky")
    page = signed_in_page(alice)
    page.goto(f"/spaces/{space.pk}/")
    _ready(page)
    dropped = []

    def drop_first_attempt(route):
        if not dropped:
            dropped.append(route.request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/upload?path=%2Fnote-01.txt", drop_first_attempt)
    _drop(page, 3)
    expect(page.locator("#workspace tbody tr[data-name]")).to_have_count(3, timeout=60_000)
    expect(page.locator("#upload-errors")).to_be_empty()
    assert len(dropped) == 1
    node = Node.objects.get(space=space, name="note-01.txt")
    assert node.versions.count() == 1
    console_errors.clear()  # Chromium logs the connection it was told to drop


def test_names_with_spaces_plus_hash_percent_and_chinese_arrive_as_named(signed_in_page, alice, console_errors):
    space = space_create(actor=alice, name="Names")
    page = signed_in_page(alice)
    page.goto(f"/spaces/{space.pk}/")
    _ready(page)
    names = ["a b+c.txt", "#1 100% & more.txt", "报告 2026.txt"]
    transfer = page.evaluate_handle("""(names) => {
      const transfer = new DataTransfer();
      for (const name of names) transfer.items.add(new File([name], name, { type: "text/plain" }));
      return transfer;
    }""", names)
    zone = page.locator("#workspace")
    for event in ("dragenter", "dragover", "drop"):
        zone.dispatch_event(event, {"dataTransfer": transfer})
    expect(page.locator("#workspace tbody tr[data-name]")).to_have_count(3, timeout=60_000)
    expect(page.locator("#upload-errors")).to_be_empty()
    assert sorted(Node.objects.filter(space=space, kind="file").values_list("name", flat=True)) == sorted(names)
