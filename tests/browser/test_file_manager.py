"""The space page as a file manager, in Chromium against the live server: the
details drawer beside the list, the row menu (button and right-click), inline
rename, drag onto a folder, trash with Undo, the keyboard, the grid view with
thumbnails, the upload conflict question, phone width and Chinese."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.utils import translation
from django.utils.translation import gettext
from playwright.sync_api import expect

from portal.files.models import Node
from portal.previews import selectors as previews
from portal.search.models import Star
from portal.spaces.services import space_create
from portal.files.services.tree import folder_create
from tests.browser import file_manager as fm

ROOT = Path(__file__).resolve().parents[2]
# A 1x1 PNG, as a thumbnail URL the page may show (the CSP allows data: images).
PIXEL = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9"
         "awAAAABJRU5ErkJggg==")
OVERFLOWING = """() => Array.from(document.querySelectorAll("body *"))
  .filter((el) => el.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5
                  && getComputedStyle(el).position !== "fixed" && el.offsetParent !== null)
  .slice(0, 8).map((el) => `${el.tagName}#${el.id}.${el.className} ${Math.round(el.getBoundingClientRect().right)}`)"""


@pytest.fixture(autouse=True)
def _portal_urls(settings, live_server):
    if not (ROOT / "static" / "vendor" / ".built").exists():
        pytest.fail("static/vendor/ is not built: run `make static/vendor/.built` (make test does)")
    settings.PUBLIC_URL = live_server.url


@pytest.fixture
def team(alice):
    space = space_create(actor=alice, name="Team")
    folder_create(actor=alice, space_id=space.pk, path="/Archive")
    fm.put(alice, space, "/notes.txt", b"notes\n" * 100)
    fm.put(alice, space, "/report.pdf", b"%PDF-1.4 tiny\n")
    fm.put(alice, space, "/photo.png", b"not really a png")
    return space


def test_the_drawer_opens_beside_the_list_with_info_versions_and_activity(
        signed_in_page, alice, team, console_errors, screenshot):
    page = signed_in_page(alice)
    page.set_viewport_size({"width": 1366, "height": 900})
    fm.open_folder(page, team)
    assert fm.row_names(page) == ["Archive", "notes.txt", "photo.png", "report.pdf"]  # folders first, then by name
    screenshot(page, "file-manager")

    fm.menu(page, "notes.txt", "Details")
    drawer = page.locator("#drawer .item-panel")
    expect(drawer.get_by_role("heading", name="notes.txt")).to_be_visible()
    expect(drawer.locator("#drawer-versions")).to_contain_text("Version 1")
    expect(drawer.locator("#drawer-activity")).to_contain_text("alice uploaded /notes.txt")
    listing, side = page.locator("#fm-list").bounding_box(), page.locator("#drawer").bounding_box()
    assert side["x"] >= listing["x"] + listing["width"]  # beside the list, not below it
    assert side["y"] < listing["y"] + 50
    screenshot(page, "file-manager-drawer")

    page.get_by_role("button", name="Close details").click()
    expect(page.locator("#drawer")).to_be_empty()

    page.locator("th.col-size").get_by_role("button", name="Size").click()
    expect(page.locator("th.col-size")).to_have_attribute("aria-sort", "ascending")
    page.locator("th.col-size").get_by_role("button", name="Size").click()
    expect(page.locator("th.col-size")).to_have_attribute("aria-sort", "descending")
    assert fm.row_names(page)[:2] == ["Archive", "notes.txt"]  # the largest file first after the folder
    assert "sort=size" in page.url and "order=desc" in page.url


def test_the_row_menu_right_click_renames_inline_drag_moves_and_trash_can_be_undone(
        signed_in_page, alice, team, console_errors):
    page = signed_in_page(alice)
    fm.open_folder(page, team)

    fm.row(page, "notes.txt").click(button="right")
    expect(page.locator("#row-menu")).to_be_visible()
    page.locator("#row-menu").get_by_role("menuitem", name="Rename").click()
    page.get_by_label("New name").fill("minutes.txt")
    page.get_by_label("New name").press("Enter")
    expect(page.locator("#toast")).to_contain_text("Renamed to “minutes.txt”")
    expect(fm.row(page, "minutes.txt")).to_be_visible()
    assert Node.objects.filter(space=team, name="minutes.txt", trashed_at__isnull=True).exists()

    fm.row(page, "report.pdf").drag_to(fm.row(page, "Archive"))
    expect(page.locator("#toast")).to_contain_text("“report.pdf” moved to /Archive")
    expect(fm.row(page, "report.pdf")).to_have_count(0)
    report = Node.objects.get(space=team, name="report.pdf")
    assert report.parent.name == "Archive"
    fm.open_folder(page, team, "/Archive")
    fm.row(page, "report.pdf").drag_to(page.locator(".crumbs li", has_text="Team"))  # back up, onto the breadcrumb
    expect(page.locator("#toast")).to_contain_text("“report.pdf” moved to /")
    report.refresh_from_db()
    assert report.parent.parent_id is None
    fm.open_folder(page, team)

    fm.menu(page, "photo.png", "Star")
    expect(page.locator("#toast")).to_contain_text("“photo.png” starred")
    expect(fm.row(page, "photo.png").locator(".star-mark")).to_be_visible()
    assert Star.objects.filter(user=alice, node__name="photo.png").exists()

    fm.menu(page, "photo.png", "Move to trash")
    expect(page.locator("#toast")).to_contain_text("“photo.png” moved to the trash")
    expect(fm.row(page, "photo.png")).to_have_count(0)
    assert Node.objects.get(space=team, name="photo.png").trashed_at is not None
    page.locator("#toast").get_by_role("button", name="Undo").click()
    expect(page.locator("#toast")).to_contain_text("“photo.png” restored")
    expect(fm.row(page, "photo.png")).to_be_visible()
    assert Node.objects.get(space=team, name="photo.png").trashed_at is None


def test_the_keyboard_moves_between_rows_renames_trashes_and_selects_all(
        signed_in_page, alice, team, console_errors):
    page = signed_in_page(alice)
    fm.open_folder(page, team)
    fm.row(page, "Archive").locator("td.col-modified").click()
    expect(fm.row(page, "Archive")).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(fm.row(page, "notes.txt")).to_be_focused()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowUp")
    expect(fm.row(page, "notes.txt")).to_be_focused()

    page.keyboard.press("F2")
    expect(page.get_by_label("New name")).to_be_focused()
    page.keyboard.press("Escape")
    expect(fm.row(page, "notes.txt")).to_be_focused()

    page.keyboard.press("Delete")
    expect(page.locator("#toast")).to_contain_text("“notes.txt” moved to the trash")
    expect(fm.row(page, "notes.txt")).to_have_count(0)
    expect(fm.row(page, "photo.png")).to_be_focused()  # the next row takes the focus

    page.locator("#workspace tr.fm-row").first.focus()
    page.keyboard.press("Control+a")
    expect(page.locator("#selection-bar")).to_be_visible()
    expect(page.locator("#selection-count")).to_have_text("3 items selected")
    expect(page.locator("#workspace input[name=ids]:checked")).to_have_count(3)

    page.locator("#workspace tr.fm-row", has_text="Archive").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".crumbs")).to_contain_text("Archive")
    expect(page.get_by_text("This folder is empty.")).to_be_visible()
    page.go_back()
    fm.row(page, "Archive").locator("td.col-modified").dblclick()  # a double click opens too
    expect(page.locator(".crumbs")).to_contain_text("Archive")


def test_the_grid_view_shows_thumbnails_for_what_has_one_and_is_remembered(
        signed_in_page, alice, team, console_errors, screenshot, monkeypatch):
    photo = Node.objects.get(space=team, name="photo.png")
    monkeypatch.setattr(previews, "thumbnail_urls", lambda nodes: {n.pk: PIXEL for n in nodes if n.pk == photo.pk})
    page = signed_in_page(alice)
    fm.open_folder(page, team)
    page.get_by_role("button", name="Grid view").click()
    expect(page.locator("#fm")).to_have_class("fm grid")
    expect(fm.row(page, "photo.png").locator("img.thumb")).to_be_visible()
    expect(page.locator("#workspace img.thumb")).to_have_count(1)
    expect(fm.row(page, "report.pdf").locator(".icon.kind-pdf")).to_be_visible()
    screenshot(page, "file-manager-grid")

    page.reload()
    expect(page.locator("#fm")).to_have_class("fm grid")
    expect(page.get_by_role("button", name="Grid view")).to_have_attribute("aria-pressed", "true")
    page.get_by_role("button", name="List view").click()
    expect(page.locator("#fm")).to_have_class("fm")
    expect(fm.row(page, "photo.png").locator("img.thumb")).to_be_hidden()


def _pick(page, tmp_path, name: str, body: bytes):
    path = tmp_path / name
    path.write_bytes(body)
    expect(page.locator("#uploader")).to_have_attribute("data-ready", "1")
    page.locator("#upload-input").set_input_files(str(path))


def test_an_upload_conflict_is_asked_once_replace_keep_both_or_skip(
        signed_in_page, alice, team, console_errors, tmp_path):
    notes = Node.objects.get(space=team, name="notes.txt")
    page = signed_in_page(alice)
    fm.open_folder(page, team)
    puts = []
    page.on("request", lambda request: puts.append(request.url) if request.method == "PUT" else None)

    _pick(page, tmp_path, "notes.txt", b"second\n")
    dialog = page.locator("#conflict-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("/notes.txt")
    dialog.get_by_role("button", name="Replace (new version)").click()
    expect(page.locator("#upload-status")).to_have_text("1 uploaded, 0 not uploaded.", timeout=30_000)
    assert notes.versions.count() == 2

    _pick(page, tmp_path, "notes.txt", b"third\n")
    dialog.get_by_role("button", name="Keep both").click()
    expect(fm.row(page, "notes (1).txt")).to_be_visible(timeout=30_000)
    assert notes.versions.count() == 2
    assert Node.objects.get(space=team, name="notes (1).txt").size == len(b"third\n")

    before = len(puts)
    _pick(page, tmp_path, "notes.txt", b"fourth\n")
    dialog.get_by_role("button", name="Skip these files").click()
    expect(page.locator("#upload-status")).to_have_text("0 uploaded, 0 not uploaded.")
    assert len(puts) == before
    assert notes.versions.count() == 2
    assert Node.objects.filter(space=team, kind="file", trashed_at__isnull=True).count() == 4


def test_at_phone_width_nothing_scrolls_sideways_and_the_drawer_is_a_full_screen_sheet(
        signed_in_page, alice, team, console_errors, screenshot):
    page = signed_in_page(alice)
    page.set_viewport_size({"width": 375, "height": 812})
    fm.open_folder(page, team)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, page.evaluate(OVERFLOWING)
    first_row = page.locator("#workspace tr.fm-row").first.bounding_box()
    assert first_row["y"] + first_row["height"] <= 812  # the list starts in the first screen
    expect(page.locator("th.col-size")).to_be_hidden()
    expect(page.locator("#sidenav")).to_be_hidden()
    screenshot(page, "file-manager-phone")

    page.get_by_role("button", name="Menu").click()
    expect(page.locator("#sidenav")).to_be_visible()
    expect(page.locator("#sidenav").get_by_role("link", name="Shared with me")).to_be_visible()
    page.get_by_role("button", name="Menu").click()
    expect(page.locator("#sidenav")).to_be_hidden()

    fm.menu(page, "notes.txt", "Details")
    expect(page.locator("#drawer .item-panel")).to_be_visible()
    box = page.locator("#drawer").bounding_box()
    assert (box["x"], box["y"], box["width"], box["height"]) == (0, 0, 375, 812)
    screenshot(page, "file-manager-phone-drawer")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.get_by_role("button", name="Close details").click()
    expect(page.locator("#drawer")).to_be_empty()


def test_in_chinese_the_file_manager_keeps_its_structure(signed_in_page, alice, team, console_errors):
    page = signed_in_page(alice)
    fm.open_folder(page, team)
    with page.expect_navigation():
        page.get_by_label("Language").select_option("zh-hans")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.locator(".fm-toolbar button.tool[popovertarget=new-folder-pop]")).to_be_visible()
    expect(page.locator(".fm-toolbar [data-upload-pick=files]")).to_be_visible()
    expect(page.locator("#workspace th[aria-sort]")).to_have_count(3)
    fm.row(page, "notes.txt").locator(".row-menu-button").click()
    expect(page.locator("#row-menu [data-action]:not([hidden])")).to_have_count(12)  # with Edit together (a .txt)
    page.keyboard.press("Escape")
    expect(page.locator("#row-menu")).to_be_hidden()
    page.locator("#workspace tr.fm-row").first.focus()
    page.keyboard.press("Control+a")
    with translation.override("zh-hans"):  # the server's words (the catalogue's), never the script's
        expected = gettext("%(count)s items selected") % {"count": 4}
    expect(page.locator("#selection-count")).to_have_text(expected)


@pytest.mark.parametrize("path", ["/spaces/", "/links/", "/devices/", "/account/", "/recent/", "/starred/", "/shared/",
                                  "/search/?q=notes", "{space}trash/", "{space}settings/", "/nowhere/"])
def test_at_phone_width_the_portals_pages_do_not_scroll_sideways(signed_in_page, alice, team, console_errors, path):
    page = signed_in_page(alice)
    page.set_viewport_size({"width": 375, "height": 812})
    page.goto(path.format(space=f"/spaces/{team.pk}/"))
    expect(page.locator("#main")).to_be_visible()
    console_errors.clear()  # /nowhere/ answers 404, which Chromium logs
    assert page.evaluate("document.documentElement.scrollWidth") <= 375, page.evaluate(OVERFLOWING)
    expect(page.locator("#sidenav")).to_be_hidden()
    expect(page.get_by_role("button", name="Menu")).to_be_visible()


def test_new_folder_refuses_a_taken_name_then_creates_and_empties_its_box(signed_in_page, alice, team, console_errors):
    page = signed_in_page(alice)
    fm.open_folder(page, team)
    page.get_by_role("button", name="New folder").click()
    page.get_by_label("Folder name").fill("archive")
    page.get_by_role("button", name="Create folder").click()
    expect(page.locator("#new-folder-pop [role=alert]")).to_have_text(
        "A folder named “Archive” already exists here; pick another name.")
    console_errors.clear()  # the 409 is logged by Chromium as a failed resource
    page.get_by_label("Folder name").fill("Plans/2027")
    page.get_by_role("button", name="Create folder").click()
    expect(page.locator("#toast")).to_contain_text("Folder “Plans/2027” created.")
    expect(page.locator("#new-folder-pop")).to_be_hidden()
    expect(page.locator("#new-folder-pop [data-error-slot]")).to_be_empty()  # the old refusal is gone
    expect(fm.row(page, "Plans")).to_be_visible()
    page.get_by_role("button", name="New folder").click()
    expect(page.get_by_label("Folder name")).to_have_value("")
    expect(page.get_by_label("Folder name")).to_be_focused()


def test_files_dropped_on_a_folder_row_land_in_that_folder(signed_in_page, alice, team, console_errors):
    page = signed_in_page(alice)
    fm.open_folder(page, team)
    expect(page.locator("#uploader")).to_have_attribute("data-ready", "1")
    transfer = page.evaluate_handle("""() => {
      const transfer = new DataTransfer();
      for (const name of ["one.txt", "two.txt"]) transfer.items.add(new File([name], name, { type: "text/plain" }));
      return transfer;
    }""")
    target = fm.row(page, "Archive")
    for event in ("dragenter", "dragover", "drop"):
        target.dispatch_event(event, {"dataTransfer": transfer})
    expect(page.locator("#upload-status")).to_have_text("2 uploaded, 0 not uploaded.", timeout=30_000)
    archive = Node.objects.get(space=team, name="Archive")
    assert sorted(Node.objects.filter(parent=archive).values_list("name", flat=True)) == ["one.txt", "two.txt"]
    expect(fm.row(page, "one.txt")).to_have_count(0)  # this folder's list is unchanged
