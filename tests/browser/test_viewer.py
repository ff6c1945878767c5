"""The file viewer in Chromium: an image (zoom), a PDF drawn by pdf.js, code
and Markdown, an Office document whose rendition arrives while the page
polls, previous/next within the folder, and a phone-width page with no
sideways scrolling."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import expect

from portal.files.services.direct import file_put
from portal.previews import services
from portal.scanning.models import ScanVerdict
from portal.spaces.services import space_create
from tests.previews.conftest import png_bytes
from tests.previews.test_tasks import docx_bytes

ROOT = Path(__file__).resolve().parents[2]
PHONE = {"width": 375, "height": 740}


@pytest.fixture(autouse=True)
def _portal_urls(settings, live_server):
    if not (ROOT / "static" / "vendor" / ".built").exists():
        pytest.fail("static/vendor/ is not built: run `make static/vendor/.built` (make test does)")
    settings.PUBLIC_URL = live_server.url


def pdf_bytes(pages: int = 2) -> bytes:
    out = io.BytesIO()
    first, *rest = [Image.new("RGB", (595, 842), (255, 255 - 60 * i, 255)) for i in range(pages)]
    first.save(out, format="PDF", save_all=True, append_images=rest)
    return out.getvalue()


@pytest.fixture
def folder(alice):
    """A team space whose /Work folder holds one file of each kind, scanned clean."""
    space = space_create(actor=alice, name="Team")
    files = {
        "a-photo.png": png_bytes((1600, 900), (30, 120, 200)),
        "b-report.pdf": pdf_bytes(),
        "c-script.py": b'def greet(name):\n    """Say hello."""\n    return f"Hello, {name}!"  # <b>not bold</b>\n',
        "d-notes.md": b"# Notes\n\nSome *emphasis* and a [link](https://example.com).\n\n<script>alert(1)</script>\n",
        "e-plan.docx": docx_bytes("Plan for the viewer"),
    }
    nodes = {}
    for name, data in files.items():
        version = file_put(actor=alice, space_id=space.pk, path=f"/Work/{name}", fileobj=io.BytesIO(data),
                           size=len(data))
        ScanVerdict.objects.filter(version=version).update(state="clean")
        nodes[name] = version.node
    return space, nodes


def _open(page, node):
    page.goto(f"/spaces/{node.space_id}/items/{node.pk}/view")
    expect(page.locator("#viewer-title")).to_have_text(node.name)


def test_an_image_opens_with_zoom_and_the_folder_steps_through_next_and_previous(
        signed_in_page, alice, folder, console_errors, screenshot):
    space, nodes = folder
    page = signed_in_page(alice)
    _open(page, nodes["a-photo.png"])
    image = page.locator("[data-zoom-image]")
    expect(image).to_have_js_property("complete", True)
    assert page.evaluate("document.querySelector('[data-zoom-image]').naturalWidth") == 1600
    fitted = image.bounding_box()["width"]
    assert fitted < 1600
    image.click()   # 100 %
    expect(image).not_to_have_class("viewer-image fit")
    assert image.bounding_box()["width"] == pytest.approx(1600, abs=2)
    page.locator("[data-zoom-out]").click()
    assert image.bounding_box()["width"] == pytest.approx(1200, abs=2)
    page.locator("[data-zoom-toggle]").click()   # back to fit
    assert image.bounding_box()["width"] == pytest.approx(fitted, abs=2)
    screenshot(page, "viewer-image")
    expect(page.locator("#viewer-previous")).to_have_count(0)
    page.locator("#viewer-next").click()
    expect(page.locator("#viewer-title")).to_have_text("b-report.pdf")
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#viewer-title")).to_have_text("a-photo.png")
    page.locator("#viewer-close").click()
    expect(page).to_have_url(f"{page.url.split('/spaces/')[0]}/spaces/{space.pk}/?path=/Work")


def test_a_pdf_is_drawn_by_pdfjs_on_canvases(signed_in_page, alice, folder, console_errors, screenshot):
    _space, nodes = folder
    page = signed_in_page(alice)
    _open(page, nodes["b-report.pdf"])
    expect(page.locator(".pdf-view")).to_have_attribute("data-rendered", "2")
    expect(page.locator("canvas.pdf-page")).to_have_count(2)
    drawn = page.evaluate("""() => { const c = document.querySelector('canvas.pdf-page');
        const d = c.getContext('2d').getImageData(c.width / 2, c.height / 2, 1, 1).data; return [d[0], d[1], d[2]]; }""")
    assert drawn == [255, 255, 255] or drawn[0] > 200   # the page's own colour, not an empty canvas
    screenshot(page, "viewer-pdf")


def test_code_is_highlighted_and_markdown_rendered_without_its_script(
        signed_in_page, alice, folder, console_errors, screenshot):
    _space, nodes = folder
    page = signed_in_page(alice)
    _open(page, nodes["c-script.py"])
    expect(page.locator("#viewer-text .highlight .k").first).to_have_text("def")
    expect(page.locator("#viewer-text")).to_contain_text("<b>not bold</b>")
    screenshot(page, "viewer-text")
    page.locator("#viewer-next").click()
    expect(page.locator("#viewer-markdown h1")).to_have_text("Notes")
    expect(page.locator("#viewer-markdown em")).to_have_text("emphasis")
    assert page.locator("#viewer-markdown script").count() == 0
    screenshot(page, "viewer-markdown")


def test_an_office_document_appears_once_its_rendition_is_made(
        signed_in_page, alice, folder, console_errors, screenshot):
    _space, nodes = folder
    node = nodes["e-plan.docx"]
    page = signed_in_page(alice)
    _open(page, node)
    expect(page.locator("[data-office-pending]")).to_be_visible()
    assert services.rendition_make(node.current_version_id) == "ready"   # what the queued task does
    expect(page.locator("canvas.pdf-page")).to_have_count(1, timeout=10_000)   # the page polled every 2 s
    expect(page.locator(".pdf-view")).to_have_attribute("data-rendered", "1")
    screenshot(page, "viewer-office")


def test_at_phone_width_the_viewer_never_scrolls_sideways(signed_in_page, alice, folder, console_errors):
    _space, nodes = folder
    page = signed_in_page(alice)
    page.set_viewport_size(PHONE)
    for name in ("a-photo.png", "b-report.pdf", "c-script.py", "d-notes.md"):
        _open(page, nodes[name])
        if name == "b-report.pdf":
            expect(page.locator(".pdf-view")).to_have_attribute("data-rendered", "2")
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], f"{name} scrolls sideways: {width}"


def test_a_preview_link_shows_the_same_viewer_without_a_download(new_page, alice, folder, console_errors):
    from portal.shares.services import share_link_create

    _space, nodes = folder
    node = nodes["e-plan.docx"]
    services.rendition_make(node.current_version_id)
    _link, token = share_link_create(actor=alice, node_id=node.pk, permission="preview")
    page = new_page()
    page.goto(f"/s/{token}")
    image = page.locator(".pdf-page-image")
    expect(image).to_have_js_property("complete", True)
    assert page.evaluate("document.querySelector('.pdf-page-image').naturalWidth") > 100   # a page image arrived
    expect(page.locator("#download")).to_have_count(0)
    _link, token = share_link_create(actor=alice, node_id=nodes["d-notes.md"].pk, permission="preview")
    page.goto(f"/s/{token}")
    expect(page.locator("#viewer-markdown h1")).to_have_text("Notes")


def test_on_s3_the_viewer_loads_images_and_pdfs_from_presigned_urls(
        settings, seaweed, signed_in_page, alice, console_errors):
    from tests.files.support_s3 import use_s3

    use_s3(settings, seaweed)
    space = space_create(actor=alice, name="Cloud")
    made = {}
    for name, data in (("a.png", png_bytes((300, 200))), ("b.pdf", pdf_bytes(1))):
        version = file_put(actor=alice, space_id=space.pk, path=f"/{name}", fileobj=io.BytesIO(data), size=len(data))
        ScanVerdict.objects.filter(version=version).update(state="clean")
        made[name] = version.node
    page = signed_in_page(alice)
    _open(page, made["a.png"])
    expect(page.locator("[data-zoom-image]")).to_have_js_property("complete", True)
    assert page.evaluate("document.querySelector('[data-zoom-image]').naturalWidth") == 300
    _open(page, made["b.pdf"])
    expect(page.locator(".pdf-view")).to_have_attribute("data-rendered", "1")
