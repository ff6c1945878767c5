"""The sensitive-content review queue in Chromium: an administrator finds a
labelled file (masked samples only), is refused a bad relabel in place,
blocks the label's external links, then approves the file; the page fits a
375 px screen."""

from __future__ import annotations

import io

from playwright.sync_api import expect

from portal.files.services.direct import file_put
from portal.governance.models import LabelPolicy, LabelReview
from portal.governance.services_sensitive import version_label
from portal.scanning.services import scan_version
from portal.spaces.services import space_create
from tests.support.dlp_text import seed_builtin_detectors

ID = "110105199003071239"


def test_an_administrator_reviews_a_labelled_file(signed_in_page, admin, alice, console_errors, screenshot):
    seed_builtin_detectors()
    space = space_create(actor=alice, name="HR")
    data = f"员工身份证 {ID}".encode()
    version = file_put(actor=alice, space_id=space.pk, path="/staff.txt", fileobj=io.BytesIO(data), size=len(data))
    scan_version(version.pk)
    assert version_label(version.pk).startswith("labelled")
    boss = signed_in_page(admin)
    boss.goto("/manage/")
    boss.get_by_role("navigation", name="Admin console").get_by_role("link", name="Sensitive content").click()
    row = boss.locator("#label-reviews tr[data-review]")
    expect(row).to_contain_text("staff.txt")
    expect(row).to_contain_text("personal-id")
    expect(row).not_to_contain_text(ID)
    screenshot(boss, "sensitive-review-queue")

    row.get_by_label("New labels").fill("not a label!")
    row.get_by_role("button", name="Relabel").click()
    expect(row.locator("[data-error-slot]").nth(2)).to_contain_text("letters, digits")
    console_errors.clear()  # the browser logs the 400 it was given on purpose

    policy = boss.locator("#policy-form")
    policy.get_by_label("Label").fill("personal-id")
    policy.get_by_label("External links").select_option("block")
    policy.get_by_role("button", name="Save policy").click()
    expect(boss.locator("#label-policies tr[data-policy='personal-id']")).to_contain_text("Block external links")
    assert LabelPolicy.objects.get(label="personal-id").action == "block"

    boss.locator("#label-reviews tr[data-review]").get_by_role("button", name="Approve").click()
    expect(boss.locator("#no-label-reviews")).to_be_visible()
    assert LabelReview.objects.get().state == "approved"

    boss.set_viewport_size({"width": 375, "height": 812})
    wide = boss.evaluate("""() => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 8).map(e => e.tagName + '#' + (e.closest('form') || {}).id + ' ' + Math.round(e.getBoundingClientRect().right) + ' ' + e.scrollWidth)""")
    assert boss.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), wide
