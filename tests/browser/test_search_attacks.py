"""Search attacked in a real browser: markup in a space's name, a file's
name and the query itself comes out of the as-you-type dropdown and the
results page as text (nothing runs, no element is made, the console stays
clean); a hostile query in the address bar is refused without breaking."""

from __future__ import annotations

import io

import pytest
from playwright.sync_api import expect

from portal.files.models import Node
from portal.files.services.direct import file_put
from portal.scanning.services import scan_version
from portal.search.tasks import index_node, index_version
from portal.spaces.services import space_create

SPACE = "Evil <img src=x onerror=window.__pwned=1>"
QUERY = 'evil "><img src=x onerror=window.__pwned=2>'


@pytest.fixture(autouse=True)
def _tasks_at_once():
    from portal.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def _stored(user, space, path: str, data: bytes):
    version = file_put(actor=user, space_id=space.pk, path=path, fileobj=io.BytesIO(data), size=len(data))
    scan_version(version.pk)
    index_version(version.pk)
    return version.node


def test_markup_in_names_and_queries_is_shown_as_text_in_the_dropdown_and_results(
        signed_in_page, alice, console_errors):
    space = space_create(actor=alice, name=SPACE)
    node = _stored(alice, space, "/evil report.txt", b"x")
    Node.objects.filter(pk=node.pk).update(name="evil <script>window.__pwned=3</script>.txt")
    index_node(node.pk)

    page = signed_in_page(alice)
    box = page.locator("#global-q")
    box.click()
    box.press_sequentially("evil", delay=40)
    hit = page.locator("#search-dropdown a.search-hit")
    expect(hit).to_have_count(1)
    expect(hit).to_contain_text("evil <script>window.__pwned=3</script>.txt")
    expect(hit).to_contain_text(SPACE)
    box.fill("")
    box.press_sequentially(QUERY, delay=10)
    expect(page.locator("#search-dropdown .search-all")).to_contain_text(QUERY)
    assert page.locator("#search-dropdown img, #search-dropdown script").count() == 0

    with page.expect_navigation():
        box.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text(QUERY)
    page.goto("/search/?q=evil")
    expect(page.locator("table.find-results tbody tr")).to_have_count(1)
    expect(page.locator("table.find-results")).to_contain_text("<script>window.__pwned=3</script>")
    assert page.locator("main img, table.find-results script").count() == 0
    assert page.evaluate("() => window.__pwned") is None


def test_a_nul_in_the_query_is_refused_and_the_header_box_still_works(signed_in_page, alice, console_errors):
    space = space_create(actor=alice, name="Finance")
    _stored(alice, space, "/ledger.txt", b"x")
    page = signed_in_page(alice)
    answer = page.goto("/search/?q=ledger%00")
    assert answer.status == 400
    expect(page.locator("body")).to_contain_text("NUL")
    page.evaluate("0")      # the refusal's own console line has arrived; it is the only one expected
    console_errors[:] = [line for line in console_errors if "status of 400" not in line]
    page.goto("/search/?q=ledger")
    expect(page.locator("table.find-results tbody tr")).to_have_count(1)
