"""Attacks on preview-only share links shown through the portal's viewer
(issue 14): the visitor is hostile and wants the original bytes, more
previews than the link allows, or previews without its password."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.previews import services
from portal.previews.models import DerivedFile, DerivedKind, DerivedState
from portal.scanning.models import ScanState, ScanVerdict
from portal.shares.models import ShareLink
from portal.shares.services import share_link_create
from tests.previews.conftest import Files, png_bytes, scanned
from tests.previews.test_tasks import docx_bytes
from tests.shares.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def files(alice, team):
    return Files(alice, team)


def share(alice, node, permission="preview", **options) -> tuple[ShareLink, str]:
    return share_link_create(actor=alice, node_id=node.pk, permission=permission, **options)


def two_page_pdf() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    pages = [Image.new("RGB", (200, 300), colour) for colour in ((250, 0, 0), (0, 0, 250))]
    pages[0].save(out, format="PDF", save_all=True, append_images=pages[1:])
    return out.getvalue()


def png_with_text(size) -> bytes:
    """A PNG that carries a text chunk: what a re-encoded preview must not hand out."""
    import io

    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", "original-bytes-marker")
    out = io.BytesIO()
    Image.new("RGB", size, (10, 20, 30)).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def previews_counted(link: ShareLink) -> tuple[int, int]:
    link.refresh_from_db()
    audited = AuditEvent.objects.filter(action="share.previewed").count()
    return link.preview_count, audited


# --- the original bytes -----------------------------------------------------------------------

@pytest.mark.parametrize("name, data", [
    ("p.png", png_with_text((300, 200))), ("d.pdf", two_page_pdf()), ("s.mp3", b"ID3" + b"\0" * 500),
    ("v.mp4", b"\0" * 500), ("n.md", b"# hi"), ("x.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
])
def test_a_preview_only_visitor_finds_no_path_to_the_original_bytes(alice, files, name, data):
    node = files.node(f"/{name}", data)
    scanned(node.current_version)
    link, token = share(alice, node)
    visitor = Client()
    page = visitor.get(f"/s/{token}")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/download" not in html and "/view/bytes" not in html and "/view/rendition" not in html
    assert "<audio" not in html and "<video" not in html and "data-pdf=" not in html
    for url in (f"/s/{token}/download", f"/s/{token}/download/{name}", f"/s/{token}/zip"):
        refused = visitor.get(url)
        assert refused.status_code in (403, 404) and data not in refused.content, url
    ranged = visitor.get(f"/s/{token}/download", HTTP_RANGE="bytes=1-")
    assert ranged.status_code == 403 and data[1:] not in ranged.content
    base = f"/spaces/{node.space_id}/items/{node.pk}"
    for url in (f"{base}/view/bytes", f"{base}/view/rendition", f"{base}/thumbnail", f"/api/v1/files/{node.pk}/content"):
        answer = visitor.get(url)
        assert answer.status_code in (302, 401, 403, 404), url   # the portal's own endpoints want a member
        assert data not in answer.content
    preview = visitor.get(f"/s/{token}/preview?page=1")
    assert preview.content != data and b"original-bytes-marker" not in preview.content
    if preview.status_code == 200:
        assert preview["Content-Type"] == "image/png"   # a rendition, never the file's own type


def test_an_office_document_on_a_preview_link_is_only_ever_page_images(alice, files):
    node = files.node("/Docs/plan.docx", docx_bytes("Secret plan"))
    scanned(node.current_version)
    pdf = b"%PDF-1.4 the rendition\n"
    from django.core.files.base import ContentFile

    from portal.storage.derived import derived_storage

    name = derived_storage().save(f"renditions/{node.current_version_id}.pdf", ContentFile(pdf))
    DerivedFile.objects.create(version=node.current_version, kind=DerivedKind.PDF, state=DerivedState.READY,
                               name=name, size=len(pdf))
    _link, token = share(alice, node)
    visitor = Client()
    html = visitor.get(f"/s/{token}").content.decode()
    assert "view/rendition" not in html and "data-pdf=" not in html and ".pdf" not in html.split("<main", 1)[-1]
    for page in ("1", "2", "0", "-1", "x"):
        answer = visitor.get(f"/s/{token}/preview?page={page}")
        assert b"%PDF" not in answer.content and answer.get("Content-Type") != "application/pdf"


# --- counting: every preview, however it is asked for ----------------------------------------

def test_every_first_page_counts_and_a_range_or_head_does_not_slip_past_the_counter(alice, files):
    node = files.node("/p.png", png_bytes((300, 200)))
    scanned(node.current_version)
    link, token = share(alice, node, max_previews=3)
    visitor = Client()
    assert visitor.head(f"/s/{token}/preview?page=1").status_code == 405       # no HEAD: no uncounted probe
    assert visitor.get(f"/s/{token}/preview?page=1", HTTP_RANGE="bytes=100-").status_code == 200
    assert previews_counted(link) == (1, 1)
    assert visitor.get(f"/s/{token}/preview?page=01").status_code == 200      # page 1 spelled otherwise
    assert previews_counted(link) == (2, 2)
    assert visitor.get(f"/s/{token}/preview?page=2").status_code == 400     # an image has no uncounted page 2
    assert previews_counted(link) == (2, 2)
    assert Client().get(f"/s/{token}/preview?page=1").status_code == 200
    assert previews_counted(link) == (3, 3)
    refused = Client().get(f"/s/{token}/preview?page=1")
    assert refused.status_code == 410 and refused["Content-Type"].startswith("text/html")
    assert previews_counted(link) == (3, 3)


def test_later_pages_are_free_only_for_the_browser_that_opened_this_version(alice, files):
    node = files.node("/d.pdf", two_page_pdf())
    scanned(node.current_version)
    link, token = share(alice, node, max_previews=5)
    visitor = Client()
    assert visitor.get(f"/s/{token}/preview?page=1").status_code == 200
    assert visitor.get(f"/s/{token}/preview?page=2").status_code == 200
    assert previews_counted(link) == (1, 1)
    files.node("/d.pdf", two_page_pdf() + b"\n% changed\n")                 # a new version
    scanned(ShareLink.objects.get(pk=link.pk).node.current_version)
    assert visitor.get(f"/s/{token}/preview?page=2").status_code == 200      # not the version it opened
    assert previews_counted(link) == (2, 2)


def test_text_shown_in_the_page_counts_as_a_preview_and_stops_at_the_limit(alice, files):
    node = files.node("/n.md", b"# secret notes")
    link, token = share(alice, node, max_previews=1)
    visitor = Client()
    assert "secret notes" in visitor.get(f"/s/{token}").content.decode()
    assert previews_counted(link) == (1, 1)
    again = visitor.get(f"/s/{token}")
    assert again.status_code == 410 and "secret notes" not in again.content.decode()


def test_a_download_limit_reached_stops_previews_too(alice, files):
    node = files.node("/p.png", png_bytes((300, 200)))
    scanned(node.current_version)
    link, token = share(alice, node, permission="download", max_downloads=1)
    visitor = Client()
    response = visitor.get(f"/s/{token}/download")
    b"".join(response.streaming_content)
    for url in (f"/s/{token}", f"/s/{token}/preview?page=1", f"/s/{token}/preview?page=2"):
        assert Client().get(url).status_code == 410, url
    assert visitor.get(f"/s/{token}/preview?page=2").status_code == 410


def test_an_expired_or_revoked_link_previews_nothing_even_to_a_browser_mid_document(alice, files):
    node = files.node("/d.pdf", two_page_pdf())
    scanned(node.current_version)
    link, token = share(alice, node)
    visitor = Client()
    assert visitor.get(f"/s/{token}/preview?page=1").status_code == 200
    ShareLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert visitor.get(f"/s/{token}/preview?page=2").status_code == 410
    ShareLink.objects.filter(pk=link.pk).update(expires_at=None, revoked_at=timezone.now())
    assert visitor.get(f"/s/{token}/preview?page=2").status_code == 410


# --- the password on every sub-request ---------------------------------------------------------

def test_the_password_applies_to_every_preview_request_and_a_new_password_locks_them_again(alice, files):
    node = files.node("/d.pdf", two_page_pdf())
    scanned(node.current_version)
    link, token = share(alice, node, password=PASSWORD)
    stranger = Client()
    for page in ("1", "2"):
        refused = stranger.get(f"/s/{token}/preview?page={page}")
        assert refused.status_code == 403 and refused["Content-Type"].startswith("text/html")
    assert "data-page-images" not in stranger.get(f"/s/{token}").content.decode()
    visitor = Client()
    assert visitor.post(f"/s/{token}", {"password": PASSWORD}).status_code == 303
    assert visitor.get(f"/s/{token}/preview?page=1").status_code == 200
    ShareLink.objects.filter(pk=link.pk).update(unlock_epoch=link.unlock_epoch + 1)   # the password changed
    assert visitor.get(f"/s/{token}/preview?page=2").status_code == 403
    assert previews_counted(link) == (1, 1)


# --- what may never render -------------------------------------------------------------------

def test_a_version_flagged_or_held_after_sharing_previews_nothing(alice, files):
    photo = files.node("/p.png", png_bytes((300, 200)))
    note = files.node("/n.txt", b"held words")
    scanned(photo.current_version)
    scanned(note.current_version)
    _l1, photo_token = share(alice, photo)
    _l2, note_token = share(alice, note)
    ScanVerdict.objects.filter(version=photo.current_version).update(state=ScanState.FLAGGED, signature="Eicar")
    ScanVerdict.objects.filter(version=note.current_version).update(state=ScanState.PENDING, fail_closed=True)
    visitor = Client()
    assert visitor.get(f"/s/{photo_token}/preview?page=1").status_code == 403
    assert "held words" not in visitor.get(f"/s/{note_token}").content.decode()
    assert "data-zoom-image" not in visitor.get(f"/s/{photo_token}").content.decode()
    assert services.thumbnail_make(photo.current_version_id) != DerivedState.READY


def test_a_trashed_file_in_a_shared_folder_and_paths_out_of_the_folder_preview_nothing(alice, files):
    photo = files.node("/Album/p.png", png_bytes((100, 100)))
    secret = files.node("/Secret/s.png", png_bytes((100, 100)))
    scanned(photo.current_version)
    scanned(secret.current_version)
    _link, token = share(alice, photo.parent)
    from portal.files.services.tree import node_trash

    visitor = Client()
    for path in ("../Secret/s.png", "%2e%2e/Secret/s.png", "..%2FSecret%2Fs.png", "/Secret/s.png",
                 "p.png/../../Secret/s.png"):
        assert visitor.get(f"/s/{token}/preview/{path}?page=1").status_code in (400, 404), path
        assert visitor.get(f"/s/{token}/f/{path}").status_code in (400, 404), path
    node_trash(actor=alice, node_id=photo.pk)
    assert visitor.get(f"/s/{token}/preview/p.png?page=1").status_code == 404
    assert visitor.get(f"/s/{token}/f/p.png").status_code == 404


def test_a_file_drop_has_no_previews(alice, files):
    photo = files.node("/Drop/p.png", png_bytes((100, 100)))
    scanned(photo.current_version)
    _link, token = share(alice, photo.parent, permission="upload")
    visitor = Client()
    assert visitor.get(f"/s/{token}/preview/p.png?page=1").status_code == 404
    assert visitor.get(f"/s/{token}/preview?page=1").status_code == 404
    assert "p.png" not in visitor.get(f"/s/{token}").content.decode()


def test_a_hostile_name_is_escaped_on_the_share_page(alice, files):
    from portal.files.models import Node

    node = files.node("/n.txt", b"words")
    Node.objects.filter(pk=node.pk).update(name='q"<img src=x onerror=alert(1)>\u202etxt.exe.txt')
    _link, token = share(alice, node)
    html = Client().get(f"/s/{token}").content.decode()
    assert "<img src=x" not in html and "&lt;img" in html


@pytest.mark.django_db(transaction=True)
def test_in_chromium_a_locked_preview_link_shows_page_images_only_after_the_password(
        new_page, alice, team, console_errors, settings, live_server):
    from playwright.sync_api import expect

    from tests.previews.test_attacks import _watch_dialogs, pdf_with_javascript

    settings.PUBLIC_URL = live_server.url
    node = Files(alice, team).node("/js.pdf", pdf_with_javascript())
    scanned(node.current_version)
    link, token = share(alice, node, password=PASSWORD)
    page = new_page()
    dialogs = _watch_dialogs(page)
    page.goto(f"/s/{token}")
    expect(page.locator(".pdf-page-image")).to_have_count(0)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("input[name=password]").press("Enter")
    image = page.locator(".pdf-page-image")
    expect(image).to_have_js_property("complete", True)
    assert page.evaluate("document.querySelector('.pdf-page-image').naturalWidth") > 100
    assert page.locator("canvas, [data-pdf], a[href*='/download']").count() == 0
    assert dialogs == [] and previews_counted(link) == (1, 1)


@pytest.mark.parametrize("name", ["logo.svg", "photo.avif"])
def test_an_image_the_previews_cannot_draw_shows_no_preview_rather_than_a_broken_request(alice, files, name):
    node = files.node(f"/{name}", b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>")
    scanned(node.current_version)
    _link, token = share(alice, node)
    visitor = Client()
    html = visitor.get(f"/s/{token}").content.decode()
    assert "preview?page=" not in html and "no preview" in html
    assert visitor.get(f"/s/{token}/preview?page=1").status_code == 415
