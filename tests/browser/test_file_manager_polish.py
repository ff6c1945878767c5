"""The file manager's polish (issue 14, H), in Chromium against the live
server: one confirmation dialog for hx-confirm and data-confirm, the script
words from the server's catalogue, lock and unlock straight from the row
menu, Download of a selection (one zip), the sort control of the grid view,
and a new employee's look at the page at 1366 px and 375 px in both languages."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest
from django.utils import translation
from django.utils.translation import gettext
from playwright.sync_api import expect

from portal.audit.actions import Action
from portal.audit.models import AuditEvent
from portal.files.models import Node
from portal.files.services.tree import folder_create
from portal.locks.models import Lock
from portal.spaces.services import space_create
from tests.browser import file_manager as fm

ROOT = Path(__file__).resolve().parents[2]
DESKTOP = {"width": 1366, "height": 800}
PHONE = {"width": 375, "height": 812}
# Visible buttons, links and menu items with no accessible name (no text, no aria-label, no labelled-by).
UNLABELLED = """() => Array.from(document.querySelectorAll("button, a[href], summary, [role=menuitem], select, input:not([type=hidden])"))
  .filter((el) => el.offsetParent !== null || getComputedStyle(el).position === "fixed")
  .filter((el) => el.getClientRects().length > 0)
  .filter((el) => !(el.textContent.trim() || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby")
                    || (el.id && document.querySelector(`label[for="${el.id}"]`)) || el.closest("label")
                    || el.getAttribute("title") || el.getAttribute("placeholder")))
  .map((el) => el.outerHTML.slice(0, 120))"""


@pytest.fixture(autouse=True)
def _portal_urls(settings, live_server):
    if not (ROOT / "static" / "vendor" / ".built").exists():
        pytest.fail("static/vendor/ is not built: run `make static/vendor/.built` (make test does)")
    settings.PUBLIC_URL = live_server.url


@pytest.fixture
def team(alice):
    space = space_create(actor=alice, name="Team")
    folder_create(actor=alice, space_id=space.pk, path="/Archive")
    fm.put(alice, space, "/Archive/old.txt", b"old\n")
    fm.put(alice, space, "/notes.txt", b"notes\n" * 100)
    fm.put(alice, space, "/report.pdf", b"%PDF-1.4 tiny\n")
    fm.put(alice, space, "/photo.png", b"not really a png")
    return space


def test_hx_confirm_asks_in_the_one_confirmation_dialog(signed_in_page, alice, team, console_errors, screenshot):
    fm.put(alice, team, "/notes.txt", b"second version\n")
    page = signed_in_page(alice)
    page.set_viewport_size(DESKTOP)
    fm.open_folder(page, team)
    assert page.locator("dialog").evaluate_all("(all) => all.map((d) => d.id)").count("confirm-dialog") == 1
    expect(page.locator("#fm-confirm-dialog")).to_have_count(0)
    fm.menu(page, "notes.txt", "Versions")
    restore = page.get_by_role("button", name="Restore version 1")
    restore.click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Make version 1 the current one?")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()  # the safe choice first
    screenshot(page, "restore-version-confirm")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(restore).to_be_focused()  # the focus goes back to the button
    assert Node.objects.get(space=team, name="notes.txt").current_version.number == 2

    restore.click()
    page.get_by_role("dialog").get_by_role("button", name="Yes, go ahead").click()
    expect(page.locator("#toast")).to_contain_text("Version 1 restored as version 3")
    assert Node.objects.get(space=team, name="notes.txt").current_version.number == 3


def test_the_scripts_words_are_the_servers(signed_in_page, alice, team, console_errors):
    page = signed_in_page(alice)
    fm.open_folder(page, team)
    fm.row(page, "notes.txt").locator("input[name=ids]").check()
    expect(page.locator("#selection-count")).to_have_text("1 item selected")
    fm.row(page, "photo.png").locator("input[name=ids]").check()
    expect(page.locator("#selection-count")).to_have_text("2 items selected")
    page.get_by_role("button", name="Clear selection").click()
    expect(page.locator("#selection-bar")).to_be_hidden()

    fm.menu(page, "photo.png", "Star")
    expect(page.locator("#toast")).to_contain_text("“photo.png” starred.")
    expect(fm.row(page, "photo.png")).to_be_focused()
    fm.menu(page, "photo.png", "Remove the star")
    expect(page.locator("#toast")).to_contain_text("“photo.png” is no longer starred.")
    expect(page.locator("#toast")).to_be_empty(timeout=20_000)  # a toast goes away by itself

    with page.expect_navigation():
        page.get_by_label("Language").select_option("zh-hans")
    fm.open_folder(page, team)
    with translation.override("zh-hans"):
        one, starred = gettext("1 item selected"), gettext("“%(name)s” starred.") % {"name": "photo.png"}
    fm.row(page, "notes.txt").locator("input[name=ids]").check()
    expect(page.locator("#selection-count")).to_have_text(one)
    page.locator("[data-bulk=clear]").click()
    fm.row(page, "photo.png").locator(".row-menu-button").click()
    page.locator("#row-menu [data-action=star]:not([hidden])").click()
    expect(page.locator("#toast")).to_contain_text(starred)


def test_lock_and_unlock_from_the_row_menu_act_at_once(signed_in_page, alice, team, console_errors):
    page = signed_in_page(alice)
    page.set_viewport_size(DESKTOP)
    fm.open_folder(page, team)
    fm.menu(page, "notes.txt", "Lock")
    expect(page.locator("#toast")).to_contain_text("“notes.txt” is locked.")
    expect(fm.row(page, "notes.txt").locator(".badge.lock")).to_contain_text("Locked by alice")
    expect(page.locator("#drawer")).to_be_empty()  # no drawer: the list says it all
    expect(fm.row(page, "notes.txt")).to_be_focused()
    assert Lock.objects.filter(node__name="notes.txt").exists()

    fm.menu(page, "notes.txt", "Unlock")
    expect(page.locator("#toast")).to_contain_text("“notes.txt” is unlocked.")
    expect(fm.row(page, "notes.txt").locator(".badge.lock")).to_have_count(0)
    expect(fm.row(page, "notes.txt")).to_be_focused()
    expect(page.locator("#drawer")).to_be_empty()

    fm.menu(page, "notes.txt", "Details")  # with the drawer open on that file, it follows
    expect(page.locator("#drawer #drawer-lock")).to_be_visible()  # open (its answer in) before the lock is taken
    fm.menu(page, "notes.txt", "Lock")
    expect(page.locator("#drawer #drawer-lock")).to_contain_text("Locked by alice")


def test_download_of_a_selection_is_one_zip_and_of_one_file_its_content(
        signed_in_page, alice, team, console_errors):
    page = signed_in_page(alice)
    fm.open_folder(page, team)
    fm.row(page, "notes.txt").locator("input[name=ids]").check()
    fm.row(page, "Archive").locator("input[name=ids]").check()
    with page.expect_download() as info:
        page.locator("#selection-bar").get_by_role("button", name="Download").click()
    archive = zipfile.ZipFile(info.value.path())
    assert sorted(archive.namelist()) == ["Archive/", "Archive/old.txt", "notes.txt"]
    assert info.value.suggested_filename == "Team.zip"
    assert AuditEvent.objects.filter(action=Action.FILE_ZIP_DOWNLOADED, actor=alice).count() == 1

    page.get_by_role("button", name="Clear selection").click()
    fm.row(page, "report.pdf").locator("input[name=ids]").check()
    with page.expect_download() as info:
        page.locator("#selection-bar").get_by_role("button", name="Download").click()
    assert info.value.suggested_filename == "report.pdf"
    assert Path(info.value.path()).read_bytes() == b"%PDF-1.4 tiny\n"


def test_the_grid_view_has_a_sort_control(signed_in_page, alice, team, console_errors, screenshot):
    page = signed_in_page(alice)
    page.set_viewport_size(DESKTOP)
    fm.open_folder(page, team)
    sort_by = page.get_by_label("Sort by")
    expect(sort_by).to_be_hidden()  # the list has its column headers
    page.get_by_role("button", name="Grid view").click()
    expect(sort_by).to_be_visible()
    sort_by.select_option("size")
    page.wait_for_url("**sort=size**")
    page.get_by_label("Order").select_option("desc")
    page.wait_for_url("**order=desc**")
    assert fm.row_names(page) == ["Archive", "notes.txt", "photo.png", "report.pdf"]  # the largest file first
    screenshot(page, "grid-sorted")
    page.get_by_role("button", name="List view").click()
    expect(page.locator("th.col-size")).to_have_attribute("aria-sort", "descending")
    page.locator("th.col-name").get_by_role("button", name="Name").click()
    page.wait_for_url("**sort=name**")
    expect(sort_by).to_have_value("name")  # the control follows the headers
    page.get_by_role("button", name="Grid view").click()
    expect(sort_by).to_be_visible()


@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1366", "375"])
def test_a_new_employee_looks_at_the_space_page(signed_in_page, alice, team, console_errors, screenshot,
                                                language, size):
    page = signed_in_page(alice)
    page.set_viewport_size(size)
    if language != "en":
        page.goto("/spaces/")
        with page.expect_navigation():
            page.locator("#language-select").select_option(language)
    fm.open_folder(page, team)
    assert page.evaluate(UNLABELLED) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
    screenshot(page, f"space-{language}")
    fm.row(page, "notes.txt").locator(".row-menu-button").click()
    expect(page.locator("#row-menu")).to_be_visible()
    assert page.evaluate(UNLABELLED) == []
    box = page.locator("#row-menu").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= size["width"]
    page.keyboard.press("Escape")  # (before any screenshot: taking one resizes the window, which closes menus)
    expect(fm.row(page, "notes.txt")).to_be_focused()
    fm.row(page, "notes.txt").locator("input[name=ids]").check()
    fm.row(page, "photo.png").locator("input[name=ids]").check()
    bar = page.locator("#selection-bar")
    expect(bar).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
    screenshot(page, f"selection-{language}")
    page.locator("[data-bulk=clear]").click()
    fm.row(page, "notes.txt").locator(".row-menu-button").click()
    page.locator("#row-menu [data-action=details]").click()
    expect(page.locator("#drawer .item-panel")).to_be_visible()
    if size is DESKTOP:  # beside the list, never over it
        listing, side = page.locator("#fm-list").bounding_box(), page.locator("#drawer").bounding_box()
        assert side["x"] >= listing["x"] + listing["width"]
    expect(page.locator("#panel-title")).to_be_focused()
    assert page.evaluate(UNLABELLED) == []
    screenshot(page, f"drawer-{language}")


def test_a_share_drop_says_a_lost_connection_and_a_refusal_in_the_pages_words(
        new_page, alice, team, console_errors, tmp_path):
    from portal.shares.services import share_link_create

    folder = Node.objects.get(space=team, name="Archive")
    _, token = share_link_create(actor=alice, node_id=folder.pk, permission="upload")
    stranger = new_page()
    invoice = tmp_path / "invoice.pdf"
    invoice.write_bytes(b"%PDF-1.4 invoice\n")
    stranger.goto(f"/s/{token}")
    stranger.route("**/s/**", lambda route: route.abort() if route.request.method == "POST" else route.continue_())
    stranger.get_by_label("Choose files").set_input_files(str(invoice))
    stranger.get_by_role("button", name="Send").click()
    expect(stranger.locator("output")).to_have_text("The connection was lost; send the files again.")
    stranger.unroute("**/s/**")
    stranger.route("**/s/**", lambda route: route.fulfill(status=502, body="<html>bad gateway</html>")
                   if route.request.method == "POST" else route.continue_())
    stranger.get_by_label("Choose files").set_input_files(str(invoice))
    stranger.get_by_role("button", name="Send").click()
    expect(stranger.locator("output")).to_have_text("Upload failed (502).")
    console_errors.clear()  # the aborted request and the 502 are logged by Chromium, as asked
    assert not Node.objects.filter(name="invoice.pdf").exists()


def test_a_lost_connection_and_a_proxys_refusal_are_told_in_the_pages_words(
        signed_in_page, alice, team, console_errors, tmp_path):
    page = signed_in_page(alice)
    fm.open_folder(page, team)
    page.route("**/bulk", lambda route: route.abort())
    fm.menu(page, "photo.png", "Move to trash")
    expect(page.locator("#alerts")).to_have_text("The portal did not answer; check your connection and try again.")
    assert Node.objects.get(space=team, name="photo.png").trashed_at is None
    assert [line for line in console_errors if line.startswith("uncaught")] == []  # no unhandled rejection

    page.route(re.compile(r"/upload(\?|$)"), lambda route: route.fulfill(status=413, body="<html>too large</html>",
                                                         content_type="text/html"))
    memo = tmp_path / "memo.txt"
    memo.write_bytes(b"memo\n")
    page.locator("#upload-input").set_input_files(str(memo))
    expect(page.locator("#upload-errors")).to_contain_text("memo.txt: Upload failed (413).")
    console_errors.clear()  # the aborted request and the 413 are logged by Chromium, as asked


def test_the_keyboard_stays_in_the_list_after_menu_actions_and_the_toast_goes(
        signed_in_page, alice, team, console_errors):
    page = signed_in_page(alice)
    fm.open_folder(page, team)
    fm.menu(page, "photo.png", "Move to trash")
    expect(page.locator("#toast")).to_contain_text("“photo.png” moved to the trash")
    expect(fm.row(page, "report.pdf")).to_be_focused()  # the next row takes the trashed one's place

    fm.row(page, "notes.txt").locator("input[name=ids]").check()
    page.locator("[data-bulk=clear]").click()
    expect(page.locator("#selection-bar")).to_be_hidden()
    expect(page.locator("#workspace tr.fm-row[tabindex='0']")).to_be_focused()

    fm.menu(page, "notes.txt", "Move to trash")
    page.locator("#toast").get_by_role("button", name="Undo").focus()
    page.keyboard.press("Tab")  # the keyboard leaves the toast: it goes by itself after a while
    expect(page.locator("#toast")).to_be_empty(timeout=20_000)
