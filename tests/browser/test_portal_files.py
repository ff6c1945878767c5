"""The portal's pages in a real browser (Chromium against the live server):
upload with progress, folders, moves, locks seen by a second user, share
links end to end, the language switcher, and every main page without
console errors (a screenshot of each)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from portal.files.models import Node
from portal.spaces.services import member_add, space_create

ROOT = Path(__file__).resolve().parents[2]
BIG = 20 * 1024 * 1024


@pytest.fixture(autouse=True)
def _portal_urls(settings, live_server):
    """Part URLs of the local store and link URLs point at the live server."""
    if not (ROOT / "static" / "vendor" / ".built").exists():
        pytest.fail("static/vendor/ is not built: run `make static/vendor/.built` (make test does)")
    settings.PUBLIC_URL = live_server.url


@pytest.fixture
def big_file(tmp_path) -> Path:
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(BIG))
    return path


def _open_space(page, space):
    page.goto(f"/spaces/{space.pk}/")
    expect(page.get_by_role("heading", name=space.name, exact=True)).to_be_visible()


def _upload(page, path: Path):
    expect(page.locator("#uploader")).to_have_attribute("data-ready", "1")
    page.locator("#upload-input").set_input_files(str(path))


def _row(page, name: str):
    return page.locator("#workspace tr.fm-row", has=page.get_by_text(name, exact=True))


def _menu(page, name: str, action: str):
    """The row's "⋯" menu, then one of its items."""
    _row(page, name).get_by_role("button", name=f"Actions for {name}").click()
    page.get_by_role("menuitem", name=action, exact=True).click()


def test_upload_20_mib_create_a_folder_and_move_the_file(signed_in_page, alice, console_errors, screenshot,
                                                          big_file):
    space = space_create(actor=alice, name="Team")
    page = signed_in_page(alice)
    expect(page.get_by_role("heading", name="My spaces")).to_be_visible()
    expect(page.locator("#main").get_by_role("link", name="Team")).to_be_visible()
    screenshot(page, "spaces")

    _open_space(page, space)
    _upload(page, big_file)
    expect(page.locator("#upload-total")).to_have_js_property("value", 100, timeout=120_000)
    expect(page.locator("#upload-percent")).to_have_text("100 %")
    expect(page.locator("#upload-files")).to_contain_text("✓")
    expect(_row(page, "big.bin")).to_be_visible(timeout=30_000)
    screenshot(page, "uploaded")
    stored = Node.objects.get(space=space, name="big.bin")
    assert stored.size == BIG

    page.get_by_role("button", name="New folder").click()
    page.get_by_label("Folder name").fill("Archive")
    page.get_by_role("button", name="Create folder").click()
    expect(page.locator("#toast p.notice")).to_contain_text("Archive")
    expect(page.get_by_role("link", name="Archive")).to_be_visible()

    _menu(page, "big.bin", "Details")
    expect(page.get_by_role("heading", name="big.bin")).to_be_visible()
    screenshot(page, "file-panel")
    _menu(page, "big.bin", "Move…")
    page.get_by_label("Destination folder").fill("/Archive")
    page.locator("#move-dialog").get_by_role("button", name="Move", exact=True).click()
    expect(page.locator("#toast p.notice")).to_contain_text("moved to /Archive")
    page.get_by_role("link", name="Archive").click()
    expect(_row(page, "big.bin")).to_be_visible()
    expect(page.locator(".crumbs")).to_contain_text("Archive")
    screenshot(page, "folder")
    stored.refresh_from_db()
    assert Node.objects.get(pk=stored.parent_id).name == "Archive"


def test_a_locked_file_shows_its_badge_to_another_member_and_refuses_their_upload(
        signed_in_page, alice, bob, console_errors, screenshot, tmp_path):
    space = space_create(actor=alice, name="Contracts")
    member_add(actor=alice, space_id=space.pk, username="bob", role="editor")
    draft = tmp_path / "draft.txt"
    draft.write_bytes(b"first draft\n" * 1000)
    page = signed_in_page(alice)
    _open_space(page, space)
    _upload(page, draft)
    expect(_row(page, "draft.txt")).to_be_visible(timeout=30_000)
    _menu(page, "draft.txt", "Details")
    page.locator("#drawer").get_by_role("button", name="Lock", exact=True).click()
    expect(page.locator("#toast p.notice")).to_contain_text("is locked")
    expect(page.locator("#drawer")).to_contain_text("Locked by alice")
    expect(page.get_by_role("button", name="Unlock")).to_be_visible()

    other = signed_in_page(bob)
    _open_space(other, space)
    expect(_row(other, "draft.txt").locator(".badge.lock")).to_contain_text(re.compile(r"Locked by alice until \d"))
    screenshot(other, "locked-badge")
    draft.write_bytes(b"bob's changes\n" * 1000)
    _upload(other, draft)
    other.get_by_role("button", name="Replace (new version)").click()  # draft.txt is there already
    expect(other.locator("#upload-errors")).to_contain_text("locked by alice", timeout=30_000)
    expect(other.locator("#upload-status")).to_have_text("0 uploaded, 1 not uploaded.")  # not "uploading" forever
    screenshot(other, "upload-refused")
    console_errors.clear()  # the 423 answer is logged by Chromium as a failed resource, which is what we asked for

    _menu(other, "draft.txt", "Rename")
    other.get_by_label("New name").fill("mine.txt")
    other.get_by_label("New name").press("Enter")
    expect(other.locator("#alerts [role=alert]")).to_contain_text("locked by alice")
    console_errors.clear()


def test_a_password_link_made_in_the_share_dialog_works_in_a_fresh_browser_until_revoked(
        signed_in_page, new_page, alice, console_errors, screenshot, tmp_path):
    space = space_create(actor=alice, name="Finance")
    report = tmp_path / "q3.txt"
    report.write_bytes(b"Q3 revenue: 1,234,567\n" * 4096)
    page = signed_in_page(alice)
    _open_space(page, space)
    _upload(page, report)
    expect(_row(page, "q3.txt")).to_be_visible(timeout=30_000)
    _menu(page, "q3.txt", "Share…")
    expect(page.get_by_label("Expires at the end of")).not_to_have_value("")  # the policy's default
    page.get_by_label("Password (optional)").fill("123456789")
    page.get_by_role("button", name="Create link").click()
    expect(page.locator(".share-dialog [role=alert]")).to_be_visible()  # all digits: refused at the field
    console_errors.clear()
    page.get_by_label("Password (optional)").fill("blue harbour 42")
    page.get_by_role("button", name="Create link").click()
    url = page.get_by_label("Link to “q3.txt”").input_value()
    assert "/s/" in url
    page.get_by_role("button", name="Copy link").click()
    screenshot(page, "share-dialog")

    stranger = new_page()
    stranger.goto(url)
    stranger.get_by_label("This link is protected by a password").fill("wrong guess 1")
    stranger.get_by_role("button", name="Open").click()
    expect(stranger.get_by_role("alert")).to_have_text("Wrong password.")
    console_errors.clear()
    stranger.get_by_label("This link is protected by a password").fill("blue harbour 42")
    stranger.get_by_role("button", name="Open").click()
    with stranger.expect_download() as download_info:
        stranger.get_by_role("link", name="Download").click()
    saved = tmp_path / "saved.txt"
    download_info.value.save_as(saved)
    assert saved.read_bytes() == report.read_bytes()

    page.goto("/links/")
    expect(page.get_by_role("heading", name="My links")).to_be_visible()
    screenshot(page, "my-links")
    page.get_by_role("link", name="q3.txt").click()
    expect(page.get_by_role("cell", name="share.downloaded").first).to_be_visible()  # the access log
    screenshot(page, "link-detail")
    page.get_by_role("button", name="Revoke link").click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke link").click()  # "are you sure?"
    expect(page.locator(".flash")).to_contain_text("revoked")

    response = stranger.goto(url)
    assert response.status == 410
    expect(stranger.get_by_role("heading")).to_have_text("This link no longer works")
    screenshot(stranger, "share-revoked")
    console_errors.clear()


def test_switching_to_chinese_translates_the_pages(signed_in_page, alice, console_errors, screenshot):
    space_create(actor=alice, name="团队")
    page = signed_in_page(alice)
    with page.expect_navigation():
        page.get_by_label("Language").select_option("zh-hans")
    expect(page.get_by_role("heading", name="我的空间")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.get_by_role("navigation", name="主导航")).to_contain_text("设备")
    screenshot(page, "spaces-zh")
    page.locator("#main").get_by_role("link", name="团队").click()
    expect(page.get_by_text("上传", exact=True).first).to_be_visible()
    screenshot(page, "browser-zh")


def test_account_devices_settings_and_trash_pages_load_without_console_errors(
        signed_in_page, alice, console_errors, screenshot):
    space = space_create(actor=alice, name="Ops")
    page = signed_in_page(alice)

    page.goto("/account/")
    expect(page.get_by_role("heading", name="Account", exact=True)).to_be_visible()
    page.get_by_label("App name").fill("Laptop WebDAV")
    page.get_by_role("button", name="Create app password").click()
    expect(page.locator("#app-secret")).to_contain_text("shown only once")
    screenshot(page, "account")

    page.goto("/account/two-factor/")
    expect(page.locator(".qr svg")).to_be_visible()
    screenshot(page, "two-factor")

    page.goto("/devices/")
    expect(page.get_by_role("heading", name="My devices")).to_be_visible()
    page.get_by_role("button", name="Create enrollment token").click()
    expect(page.get_by_label(re.compile("Paste this on the device"))).to_have_value(re.compile("^coffer-agent enroll"))
    screenshot(page, "devices")

    page.goto(f"/spaces/{space.pk}/settings/")
    expect(page.get_by_role("heading", name="Members")).to_be_visible()
    screenshot(page, "space-settings")

    page.goto(f"/spaces/{space.pk}/trash/")
    expect(page.get_by_text("The trash is empty.")).to_be_visible()
    screenshot(page, "trash")

    page.set_viewport_size({"width": 390, "height": 844})  # phone width
    page.goto(f"/spaces/{space.pk}/")
    expect(page.get_by_role("button", name="New folder")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "browser-phone")
