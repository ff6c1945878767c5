"""Public share pages in a real browser: a stranger's fresh browser opens the
links that alice made (Chromium against the live server)."""

from __future__ import annotations

import io
import re

from PIL import Image
from playwright.sync_api import expect

from portal.files.models import Node
from portal.files.services.direct import file_put
from portal.shares.services import share_link_create, share_link_revoke
from portal.spaces.services import space_create

REPORT = b"Q3 revenue: 1,234,567\n" * 4096  # 90 KiB


def _space_with_files(alice):
    space = space_create(actor=alice, name="Finance")
    report = file_put(actor=alice, space_id=space.pk, path="/Reports/q3.txt", fileobj=io.BytesIO(REPORT),
                      size=len(REPORT)).node
    picture = io.BytesIO()
    Image.new("RGB", (640, 480), (30, 120, 200)).save(picture, format="PNG")
    file_put(actor=alice, space_id=space.pk, path="/Reports/chart.png", fileobj=io.BytesIO(picture.getvalue()),
             size=len(picture.getvalue()))
    return space, report


def test_a_password_link_refuses_a_wrong_password_downloads_with_the_right_one_and_shows_410_once_revoked(
        new_page, alice, console_errors, screenshot, tmp_path):
    _, report = _space_with_files(alice)
    link, token = share_link_create(actor=alice, node_id=report.pk, permission="download",
                                    password="blue harbour 42")
    stranger = new_page()  # a fresh context: no cookies, not signed in

    stranger.goto(f"/s/{token}")
    expect(stranger.get_by_role("heading")).to_contain_text("q3.txt")
    screenshot(stranger, "share-password")
    stranger.get_by_label("This link is protected by a password").fill("wrong guess 1")
    stranger.get_by_role("button", name="Open").click()
    expect(stranger.get_by_role("alert")).to_have_text("Wrong password.")
    console_errors.clear()  # the 403 answer itself is logged by Chromium as a failed resource

    stranger.get_by_label("This link is protected by a password").fill("blue harbour 42")
    stranger.get_by_role("button", name="Open").click()
    expect(stranger.get_by_role("heading", name="q3.txt")).to_be_visible()
    screenshot(stranger, "share-file")
    with stranger.expect_download() as download_info:
        stranger.get_by_role("link", name="Download").click()
    saved = tmp_path / "q3.txt"
    download_info.value.save_as(saved)
    assert saved.read_bytes() == REPORT

    share_link_revoke(actor=alice, link_id=link.pk)
    response = stranger.goto(f"/s/{token}")
    assert response.status == 410
    expect(stranger.get_by_role("heading")).to_have_text("This link no longer works")
    expect(stranger.locator("main")).to_contain_text("revoked")
    screenshot(stranger, "share-revoked")
    console_errors.clear()  # the 410 status is logged as a failed resource load, which is what we asked for


def test_a_shared_folder_lists_its_files_and_previews_an_image(new_page, alice, console_errors, screenshot):
    space, report = _space_with_files(alice)
    folder = Node.objects.get(pk=report.parent_id)
    _, token = share_link_create(actor=alice, node_id=folder.pk, permission="preview", watermark="CONFIDENTIAL")
    stranger = new_page()

    stranger.goto(f"/s/{token}")
    expect(stranger.get_by_role("heading", name="Reports")).to_be_visible()
    expect(stranger.get_by_role("link", name="chart.png")).to_be_visible()
    expect(stranger.get_by_role("link", name="Download")).to_have_count(0)  # preview only: no download at all
    screenshot(stranger, "share-folder")

    stranger.get_by_role("link", name="chart.png").click()
    preview = stranger.get_by_role("img", name="chart.png", exact=True)
    expect(preview).to_be_visible()
    stranger.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=preview.element_handle())
    assert stranger.evaluate("(img) => img.naturalWidth", preview.element_handle()) == 640
    screenshot(stranger, "share-preview")
    assert console_errors == []


def test_a_file_drop_uploads_with_progress_and_shows_nothing_of_the_folder(
        new_page, alice, console_errors, screenshot, tmp_path):
    space, report = _space_with_files(alice)
    folder = Node.objects.get(pk=report.parent_id)
    _, token = share_link_create(actor=alice, node_id=folder.pk, permission="upload")
    stranger = new_page()
    invoice = tmp_path / "invoice.pdf"
    invoice.write_bytes(b"%PDF-1.4 invoice\n" * 65536)  # 1.1 MiB

    stranger.goto(f"/s/{token}")
    expect(stranger.get_by_role("heading")).to_contain_text("Send files to alice")
    expect(stranger.locator("main")).not_to_contain_text("q3.txt")
    stranger.get_by_label("Choose files").set_input_files(str(invoice))
    stranger.get_by_role("button", name="Send").click()
    expect(stranger.locator("output")).to_have_text(re.compile("✓ invoice.pdf"))
    expect(stranger.locator("progress")).to_have_attribute("value", "100")
    screenshot(stranger, "share-drop")

    stored = Node.objects.get(parent=folder, name="invoice.pdf")
    assert stored.size == invoice.stat().st_size
    assert console_errors == []
