"""Download and preview limits: what counts (a download from byte 0, a first
preview page), what never does (page views, resumed ranges, HEAD), and a
limit that holds under concurrent downloads on PostgreSQL."""

from __future__ import annotations

import io
import threading

import pytest
from django.db import connection
from PIL import Image

from portal.audit.actions import Action
from tests.helpers import events
from tests.shares.conftest import CONTENT, body, row

pytestmark = pytest.mark.django_db


def test_only_downloads_from_the_first_byte_count_and_their_resumes_are_free(share, shared_file, visitor):
    link = share(shared_file["id"], max_downloads=2)
    browser = visitor()
    url = f"/s/{link['token']}/download"
    for _ in range(3):
        assert browser.get(f"/s/{link['token']}").status_code == 200
    assert browser.head(url).status_code == 200
    assert row(link).download_count == 0
    first = browser.get(url)
    assert body(first) == CONTENT
    assert body(browser.get(url, HTTP_RANGE="bytes=200-")) == CONTENT[200:]
    assert row(link).download_count == 1
    from_zero = browser.get(url, HTTP_RANGE="bytes=0-99")
    assert from_zero.status_code == 206 and body(from_zero) == CONTENT[:100]
    assert row(link).download_count == 2


def test_the_download_after_the_last_allowed_one_is_gone(share, shared_file, visitor):
    link = share(shared_file["id"], max_downloads=3)
    for _ in range(3):
        assert body(visitor().get(f"/s/{link['token']}/download")) == CONTENT
    over = visitor().get(f"/s/{link['token']}/download")
    assert over.status_code == 410 and over.context["state"] == "exhausted"
    assert visitor().get(f"/s/{link['token']}").status_code == 410
    assert row(link).download_count == 3
    assert len(events(Action.SHARE_DOWNLOADED, target_id=str(link["id"]))) == 3
    assert len(events(Action.SHARE_EXHAUSTED, target_id=str(link["id"]))) == 1


def test_a_folder_zip_counts_as_a_download(share, shared_folder, visitor):
    folder, _ = shared_folder
    link = share(folder.id, max_downloads=1)
    assert visitor().head(f"/s/{link['token']}/zip").status_code == 200
    assert visitor().get(f"/s/{link['token']}/zip").status_code == 200
    assert visitor().get(f"/s/{link['token']}/download/a.txt").status_code == 410


def test_twenty_concurrent_downloads_of_a_five_download_link_let_exactly_five_through(transactional_db, share,
                                                                                     shared_file, visitor):
    link = share(shared_file["id"], max_downloads=5)
    start = threading.Barrier(20)
    outcomes: list[tuple[int, bytes]] = []
    guard = threading.Lock()

    def download(number: int) -> None:
        try:
            browser = visitor(f"198.51.100.{number}")
            start.wait(timeout=30)
            answer = browser.get(f"/s/{link['token']}/download")
            data = body(answer) if answer.status_code == 200 else b""
            with guard:
                outcomes.append((answer.status_code, data))
        finally:
            connection.close()

    threads = [threading.Thread(target=download, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    statuses = sorted(status for status, _ in outcomes)
    assert statuses == [200] * 5 + [410] * 15
    assert all(data == CONTENT for status, data in outcomes if status == 200)
    assert row(link).download_count == 5
    assert len(events(Action.SHARE_DOWNLOADED, target_id=str(link["id"]))) == 5


def _pdf(pages: int) -> bytes:
    images = [Image.new("RGB", (300, 400), colour) for colour in ("red", "green", "blue")[:pages]]
    out = io.BytesIO()
    images[0].save(out, format="PDF", save_all=True, append_images=images[1:])
    return out.getvalue()


def test_previews_count_once_per_opening_and_stop_the_link_at_the_limit(api, alice, team, upload, share, visitor):
    pdf = upload(api.as_user(alice), team, "/slides.pdf", _pdf(3))
    link = share(pdf["id"], permission="preview", max_previews=2)
    browser = visitor()
    assert browser.get(f"/s/{link['token']}").status_code == 200  # the page itself is no preview
    first = browser.get(f"/s/{link['token']}/preview")
    assert first.status_code == 200 and first["X-Preview-Pages"] == "3"
    for page in (2, 3):
        assert browser.get(f"/s/{link['token']}/preview?page={page}").status_code == 200
    assert row(link).preview_count == 1
    assert browser.get(f"/s/{link['token']}/preview?page=1").status_code == 200
    assert row(link).preview_count == 2
    over = browser.get(f"/s/{link['token']}/preview")
    assert over.status_code == 410 and over.context["state"] == "exhausted"
    assert len(events(Action.SHARE_PREVIEWED, target_id=str(link["id"]))) == 2


def test_a_later_page_is_a_counted_preview_for_a_browser_that_did_not_open_the_first(
        api, alice, team, upload, share, visitor):
    pdf = upload(api.as_user(alice), team, "/slides.pdf", _pdf(3))
    link = share(pdf["id"], permission="preview", max_previews=2)
    first = visitor()  # skips page 1: its first page is a preview; turning on is free
    assert first.get(f"/s/{link['token']}/preview?page=2").status_code == 200
    assert first.get(f"/s/{link['token']}/preview?page=3").status_code == 200
    assert row(link).preview_count == 1
    assert visitor().get(f"/s/{link['token']}/preview?page=3").status_code == 200
    assert row(link).preview_count == 2
    assert visitor().get(f"/s/{link['token']}/preview?page=2").status_code == 410
