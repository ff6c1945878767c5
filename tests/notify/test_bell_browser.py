"""The bell in Chromium: its count changes without a reload; the list and
the webhooks page read at phone width without sideways scroll."""

from __future__ import annotations

from playwright.sync_api import expect

from portal.notify.dispatch import notify
from portal.notify.models import Kind

PHONE = {"width": 375, "height": 812}


def _no_sideways_scroll(page):
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{page.url} scrolls sideways: {width}"


def test_the_bell_count_changes_without_a_reload(signed_in_page, alice, settings, console_errors):
    settings.NOTIFY_POLL_SECONDS = 1
    page = signed_in_page(alice)
    page.set_viewport_size(PHONE)
    page.goto("/spaces/")
    badge = page.locator(".bell .bell-badge")
    expect(badge.locator("[data-count='0']")).to_have_count(1)
    page.evaluate("window.__same_page = true")
    notify(alice, kind=Kind.SPACE_ADDED, key="browser:1", params={"space": "Legal"}, url="/spaces/")
    notify(alice, kind=Kind.SPACE_ADDED, key="browser:2", params={"space": "Books"}, url="/spaces/")
    expect(badge.locator(".bell-count")).to_have_text("2", timeout=15_000)
    assert page.evaluate("window.__same_page") is True  # no reload happened
    _no_sideways_scroll(page)
    page.locator(".bell").click()
    expect(page.locator("ul.notifications li")).to_have_count(2)
    expect(page.locator("ul.notifications")).to_contain_text("added you to the space Legal")
    _no_sideways_scroll(page)
    page.get_by_role("button", name="Mark all read").click()
    expect(page.locator("ul.notifications li.unread")).to_have_count(0)
    expect(badge.locator("[data-count='0']")).to_have_count(1, timeout=15_000)


def test_the_webhooks_page_reads_at_phone_width(signed_in_page, admin, console_errors):
    page = signed_in_page(admin)
    page.set_viewport_size(PHONE)
    page.goto("/manage/webhooks/")
    expect(page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()
    _no_sideways_scroll(page)


def test_the_bells_poll_leaves_the_pages_messages_alone(signed_in_page, alice, settings, console_errors):
    """A saved-message must outlive the bell's background poll (it fires on
    load and every few seconds; it used to clear every flash at once)."""
    settings.NOTIFY_POLL_SECONDS = 1
    page = signed_in_page(alice)
    page.goto("/account/")
    page.evaluate("""() => {
        const flash = document.createElement("div");
        flash.className = "flash"; flash.textContent = "Saved.";
        document.querySelector("main").prepend(flash);
    }""")
    for _ in range(2):  # two polls after the message appeared
        with page.expect_response(lambda response: "/notifications/badge" in response.url, timeout=15_000):
            pass
    expect(page.locator("main > .flash")).to_have_text("Saved.")
