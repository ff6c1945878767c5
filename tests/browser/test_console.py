"""The admin console in Chromium: an administrator creates a user, makes a
group and adds them, sets a quota written "5 GiB" and restricts who creates
team spaces; the new user, signed in on a second page, cannot create one.
The console's pages fit a 375 px screen without sideways scrolling."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from portal.adminpanel.models import SiteSettings, SpaceCreation
from portal.people.models import Group
from portal.spaces.models import Space
from tests.support.browser import sign_in

CAROL_PASSWORD = "carol's long enough pass phrase"


def _no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_an_administrator_sets_up_a_user_and_restricts_space_creation(
        signed_in_page, new_page, admin, console_errors, screenshot):
    boss = signed_in_page(admin)
    boss.get_by_role("link", name="Admin console").click()
    boss.get_by_role("navigation", name="Admin console").get_by_role("link", name="Users").click()
    expect(boss.get_by_role("heading", name="Users", exact=True)).to_be_visible()

    form = boss.get_by_role("region", name="New user")
    form.get_by_label("Username").fill("carol")
    form.get_by_label("E-mail", exact=True).fill("carol@example.com")
    form.get_by_label("Password", exact=True).fill(CAROL_PASSWORD)
    form.get_by_role("button", name="Create user").click()
    expect(boss.locator('tr[data-username="carol"]')).to_contain_text("Active")

    boss.get_by_role("navigation", name="Admin console").get_by_role("link", name="Groups").click()
    boss.get_by_role("region", name="New group").get_by_label("Name").fill("Interns")
    boss.get_by_role("button", name="Create group").click()
    expect(boss.get_by_role("heading", name="Interns")).to_be_visible()
    boss.get_by_role("region", name="Members").get_by_label("Username").fill("carol")
    boss.get_by_role("button", name="Add member").click()
    expect(boss.locator("#member-table")).to_contain_text("carol")
    assert list(Group.objects.get(name="Interns").members.values_list("username", flat=True)) == ["carol"]

    boss.get_by_role("navigation", name="Admin console").get_by_role("link", name="Spaces").click()
    row = boss.locator('tr[data-space="carol"]')
    row.get_by_label("Quota of carol").fill("lots")
    row.get_by_role("button", name="Save").click()
    expect(row.get_by_role("alert")).to_contain_text("number and a unit")  # said in place, nothing saved
    console_errors.clear()  # the browser logs the 400 it was given on purpose
    row.get_by_label("Quota of carol").fill("5 GiB")
    row.get_by_role("button", name="Save").click()
    expect(boss.locator('tr[data-space="carol"]').get_by_label("Quota of carol")).to_have_value("5 GB")
    assert Space.objects.get(kind="personal", name="carol").quota_bytes == 5 * 1024**3

    boss.get_by_role("navigation", name="Admin console").get_by_role("link", name="Settings").click()
    boss.get_by_label("Administrators only").check()
    with boss.expect_navigation():
        boss.get_by_role("button", name="Save settings").click()
    expect(boss.get_by_label("Administrators only")).to_be_checked()
    assert SiteSettings.objects.get().space_creation == SpaceCreation.ADMINS
    screenshot(boss, "settings")

    carol = sign_in(new_page(), "carol", CAROL_PASSWORD)
    expect(carol.get_by_role("heading", name="My spaces")).to_be_visible()
    expect(carol.get_by_role("button", name="Create space")).to_have_count(0)
    expect(carol.get_by_text("only some people create team spaces")).to_be_visible()
    expect(carol.get_by_role("link", name="Admin console")).to_have_count(0)
    screenshot(carol, "no-new-space")
    # Asked directly, the portal refuses too (not only the button is gone).
    status = carol.evaluate("""async () => {
        const token = document.querySelector('input[name=csrfmiddlewaretoken]').value;
        const body = new URLSearchParams({name: 'Sneaky', csrfmiddlewaretoken: token});
        return (await fetch('/spaces/new', {method: 'POST', body, headers: {'HX-Request': 'true'}})).status;
    }""")
    assert status == 403
    assert not Space.objects.filter(name="Sneaky").exists()
    response = carol.goto("/manage/users/")
    assert response.status == 404
    console_errors.clear()  # the browser logs the refused fetch and the 404, both provoked on purpose


def test_the_console_fits_a_phone_screen(signed_in_page, admin, bob, console_errors, screenshot):
    boss = signed_in_page(admin)
    boss.set_viewport_size({"width": 375, "height": 800})
    for path in ("/manage/users/", "/manage/groups/", "/manage/spaces/", "/manage/settings/"):
        boss.goto(path)
        expect(boss.get_by_role("navigation", name="Admin console")).to_be_visible()
        assert _no_sideways_scroll(boss), f"{path} scrolls sideways at 375 px"
        screenshot(boss, re.sub(r"\W+", "-", path.strip("/")))
