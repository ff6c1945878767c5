"""Sharing a folder with a colleague, in Chromium: alice shares /Project with
bob from the share dialog; bob finds it in Shared with me, opens it, opens
a subfolder, downloads a file, and finds no way up into alice's space."""

from __future__ import annotations

import io

from playwright.sync_api import expect

from portal.files.selectors import space_root
from portal.files.services.direct import file_put
from portal.spaces.services import space_create

PLAN = b"step one, step two\n" * 2048


def _row(page, name: str):
    return page.locator("#workspace tr.fm-row", has=page.get_by_text(name, exact=True))


def test_alice_shares_a_folder_with_bob_who_opens_it_downloads_and_cannot_go_up(
        signed_in_page, alice, bob, console_errors, screenshot, tmp_path):
    space = space_create(actor=alice, name="Apollo")
    for path, data in {"/Project/plan.txt": PLAN, "/Project/notes/n.txt": b"n", "/Budget.txt": b"secret"}.items():
        file_put(actor=alice, space_id=space.pk, path=path, fileobj=io.BytesIO(data), size=len(data))

    page = signed_in_page(alice)
    page.goto(f"/spaces/{space.pk}/")
    _row(page, "Project").get_by_role("button", name="Actions for Project").click()
    page.get_by_role("menuitem", name="Share…", exact=True).click()
    people = page.locator(".share-people")
    people.get_by_label("Colleague (username)").fill("bob")
    people.get_by_label("They can").select_option("viewer")
    people.get_by_role("button", name="Share", exact=True).click()
    expect(page.locator("#people-shares")).to_contain_text("bob")
    screenshot(page, "share-with-people")

    bobs = signed_in_page(bob)
    bobs.set_viewport_size({"width": 375, "height": 800})
    bobs.goto("/shared/")
    bobs.locator("#internal-shares").get_by_role("link", name="Project").click()
    expect(bobs.get_by_role("heading", name="Project", exact=True)).to_be_visible()
    assert bobs.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scroll
    screenshot(bobs, "shared-folder")
    expect(bobs.locator("main")).not_to_contain_text("Budget.txt")
    expect(bobs.locator("main")).not_to_contain_text("Apollo")

    bobs.locator("#shared-listing").get_by_role("link", name="notes").click()
    expect(bobs.get_by_role("heading", name="notes", exact=True)).to_be_visible()
    crumbs = bobs.get_by_role("navigation", name="Breadcrumbs")
    expect(crumbs.get_by_role("link")).to_have_text(["Shared with me", "Project"])  # nothing above Project
    crumbs.get_by_role("link", name="Project").click()

    with bobs.expect_download() as download_info:
        row = bobs.locator("#shared-listing tr", has=bobs.get_by_text("plan.txt"))
        row.get_by_role("link", name="Download").click()
    saved = tmp_path / "plan.txt"
    download_info.value.save_as(saved)
    assert saved.read_bytes() == PLAN

    response = bobs.goto(f"/spaces/{space.pk}/")  # up into the space: as if it did not exist
    assert response.status == 404
    console_errors.clear()  # Chromium logs the 404 answer as a failed resource
    root = space_root(space)  # the folder above the shared one, by its id
    assert bobs.goto(f"/shared/{root.pk}/").status == 404
    console_errors.clear()
