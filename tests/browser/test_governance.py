"""The legal holds page in Chromium: an administrator puts a folder under a
hold with a reason, sees it listed as active, is refused a release without a
reason (in place), releases it with one and finds it among the released; then
sets a retention policy on the space. The page fits a 375 px screen."""

from __future__ import annotations

import io

from playwright.sync_api import expect

from portal.files.services.direct import file_put
from portal.governance.models import LegalHold, RetentionPolicy
from portal.spaces.services import space_create


def test_an_administrator_holds_a_folder_releases_it_and_sets_a_retention(signed_in_page, admin, alice,
                                                                           console_errors, screenshot):
    space = space_create(actor=alice, name="Legal")
    file_put(actor=alice, space_id=space.pk, path="/Case/mail.eml", fileobj=io.BytesIO(b"x"), size=1)
    boss = signed_in_page(admin)
    boss.goto("/manage/")
    boss.get_by_role("navigation", name="Admin console").get_by_role("link", name="Holds and retention").click()
    expect(boss.get_by_role("heading", name="Holds and retention", exact=True)).to_be_visible()

    form = boss.locator("#hold-form")
    form.get_by_label("Hold on").select_option("folder")
    form.get_by_label("Space address (folder or file)").fill(space.slug)
    form.get_by_label("Path (folder or file)").fill("/Case")
    form.get_by_label("Reason", exact=True).fill("Case 2026-17: preserve all mail")
    form.get_by_role("button", name="Create hold").click()
    row = boss.locator("#active-holds tr[data-hold]")
    expect(row).to_contain_text("Legal:/Case")
    expect(row).to_contain_text("Case 2026-17")
    screenshot(boss, "governance-hold-active")

    reason = row.get_by_label("Reason for the release")
    reason.fill("   ")                                  # blank: the browser sends it, the portal refuses in place
    row.get_by_role("button", name="Release").click()
    expect(row.locator("[data-error-slot]")).to_contain_text("reason")
    console_errors.clear()  # the browser logs the 400 it was given on purpose
    assert LegalHold.objects.get().is_active
    reason.fill("Settled out of court")
    row.get_by_role("button", name="Release").click()
    expect(boss.locator("#no-active-holds")).to_be_visible()
    expect(boss.locator("#released-holds")).to_contain_text("Settled out of court")

    retention = boss.locator("#retention-form")
    retention.get_by_label("Space address").fill(space.slug)
    retention.get_by_label("Keep every version at least (days)").fill("365")
    retention.get_by_label("When the period ends").select_option("review")
    retention.get_by_role("button", name="Save policy").click()
    expect(boss.locator("#retention-policies")).to_contain_text("365 days")
    assert RetentionPolicy.objects.get(space=space).days == 365

    boss.set_viewport_size({"width": 375, "height": 812})
    assert boss.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
