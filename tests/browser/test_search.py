"""Global search in a real browser: typing in the header's box shows results
as you type (htmx, 250 ms after the last key), Enter opens the full results
page, and clicking a result opens the file in the viewer."""

from __future__ import annotations

import io
import re

import pytest
from playwright.sync_api import expect

from portal.files.services.direct import file_put
from portal.scanning.services import scan_version
from portal.search.tasks import index_version
from portal.spaces.services import space_create


def _stored(user, space, path: str, data: bytes):
    version = file_put(actor=user, space_id=space.pk, path=path, fileobj=io.BytesIO(data), size=len(data))
    scan_version(version.pk)
    index_version(version.pk)
    return version.node


@pytest.fixture(autouse=True)
def _tasks_at_once():
    """The index tasks queued on commit run in the test's process (no worker runs here)."""
    from portal.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def test_typing_in_the_header_shows_results_as_you_type_and_a_click_opens_the_file(
        signed_in_page, alice, bob, console_errors, screenshot):
    space = space_create(actor=alice, name="Finance")
    report = _stored(alice, space, "/Reports/季度财务报告.txt", "第三季度营收增长百分之十二。".encode())
    _stored(alice, space, "/Reports/budget plan.txt", b"the marketing budget for the next year")
    theirs = space_create(actor=bob, name="Bob's own")
    _stored(bob, theirs, "/财务报告草稿.txt", b"not for alice")

    page = signed_in_page(alice)
    box = page.locator("#global-q")
    box.click()
    box.press_sequentially("财务", delay=60)
    hit = page.locator("#search-dropdown a.search-hit")
    expect(hit).to_have_count(1)
    expect(hit).to_contain_text("季度财务报告.txt")
    expect(hit).to_contain_text("Finance")
    screenshot(page, "search")

    box.fill("")
    box.press_sequentially("marketing bud", delay=40)
    expect(hit).to_have_count(1)
    expect(hit).to_contain_text("budget plan.txt")

    box.press("Escape")
    expect(page.locator("#search-dropdown")).to_be_hidden()
    box.fill("财务 报告")
    with page.expect_navigation():
        box.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("财务 报告")
    rows = page.locator("table.find-results tbody tr")
    expect(rows).to_have_count(1)
    screenshot(page, "search-results")

    rows.first.get_by_role("link", name="季度财务报告.txt").click()
    expect(page).to_have_url(re.compile(rf"/spaces/{space.pk}/items/{report.pk}/view"))
