"""The space's activity page in Chromium: "Older" appends the next page in
place (htmx), and the page reads at phone width without sideways scroll."""

from __future__ import annotations

import io

from playwright.sync_api import expect

from portal.files.services.direct import file_put
from portal.spaces.services import space_create
from portal.web import activity

PHONE = {"width": 375, "height": 812}


def test_older_appends_the_next_page_in_place_at_phone_width(signed_in_page, alice, console_errors):
    team = space_create(actor=alice, name="Team")
    for n in range(activity.PAGE_SIZE + 3):
        file_put(actor=alice, space_id=team.pk, path=f"/A rather long folder name/report-{n:02}.txt",
                 fileobj=io.BytesIO(b"x"), size=1)
    page = signed_in_page(alice)
    page.set_viewport_size(PHONE)
    page.goto(f"/spaces/{team.pk}/activity/")
    entries = page.locator("li.activity-entry")
    expect(entries).to_have_count(activity.PAGE_SIZE)
    page.get_by_role("link", name="Older").click()
    expect(entries).to_have_count(activity.PAGE_SIZE + 4)  # 23 uploads and the space
    expect(page.get_by_role("link", name="Older")).to_have_count(0)
    expect(entries.last).to_contain_text("alice created the space Team")
    assert page.locator("main h1").count() == 1  # the entries came, not a page inside the page
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the activity page scrolls sideways: {width}"
