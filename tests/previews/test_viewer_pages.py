"""The viewer page and the bytes it shows, through Django's test client."""

from __future__ import annotations

import pytest

from portal.audit.models import AuditEvent
from portal.previews import services
from portal.previews.models import DerivedFile, DerivedKind, DerivedState
from portal.scanning.models import ScanState
from tests.previews.conftest import png_bytes, scanned
from tests.web.live import page_client

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def view_url(node) -> str:
    return f"/spaces/{node.space_id}/items/{node.pk}/view"


def test_an_image_opens_in_the_viewer_with_its_toolbar_and_its_bytes_inline(alice, files):
    image = files.node("/Pics/b.png", png_bytes())
    before = files.node("/Pics/a.txt", b"a")
    after = files.node("/Pics/c.md", b"# c")
    client = page_client(alice)
    page = client.get(view_url(image))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-zoom-image' in html and f"/items/{image.pk}/view/bytes" in html
    assert f'href="/spaces/{image.space_id}/items/{before.pk}/view"' in html   # previous, by name
    assert f'href="/spaces/{image.space_id}/items/{after.pk}/view"' in html    # next
    assert "?path=/Pics" in html and f"/api/v1/files/{image.pk}/content" in html
    bytes_ = client.get(f"/spaces/{image.space_id}/items/{image.pk}/view/bytes")
    assert bytes_.status_code == 200 and bytes_["Content-Type"] == "image/png"
    assert bytes_["Content-Disposition"].startswith("inline")
    assert bytes_["Content-Security-Policy"] == "sandbox" and bytes_["X-Content-Type-Options"] == "nosniff"
    assert b"".join(bytes_.streaming_content) == png_bytes()
    assert AuditEvent.objects.filter(action="file.viewed", target_id=str(image.pk)).count() == 1


def test_an_outsider_gets_the_same_404_as_for_a_missing_file(bob, files):
    image = files.node("/a.png", png_bytes())
    client = page_client(bob)
    for url in (view_url(image), f"{view_url(image)}/bytes", f"{view_url(image)}/rendition",
                f"/spaces/{image.space_id}/items/{image.pk}/thumbnail"):
        assert client.get(url).status_code == 404, url
    assert client.get(f"{view_url(image)}/status", **HTMX).status_code == 404
    missing = client.get(f"/spaces/{image.space_id}/items/999999/view")
    assert missing.status_code == 404
    assert not AuditEvent.objects.filter(action="file.viewed").exists()


def test_bad_input_is_refused(alice, files, team):
    node = files.node("/Docs/notes.txt", b"hello")
    client = page_client(alice)
    assert client.get(f"/spaces/{team.pk + 1000}/items/{node.pk}/view").status_code == 404   # wrong space
    assert client.get(f"/spaces/{team.pk}/items/{node.parent_id}/view").status_code == 400   # a folder
    assert client.get(f"{view_url(node)}/bytes").status_code == 400         # text is shown in the page
    assert client.get(f"{view_url(node)}/status").status_code == 400        # only polled by htmx
    assert client.post(view_url(node)).status_code == 405


def test_a_quarantined_file_never_renders_and_says_why(alice, files):
    node = files.node("/x.png", png_bytes())
    text = files.node("/x.txt", b"secret words")
    scanned(node.current_version, ScanState.FLAGGED, "Eicar-Test-Signature")
    scanned(text.current_version, ScanState.FLAGGED, "Eicar-Test-Signature")
    client = page_client(alice)
    page = client.get(view_url(node)).content.decode()
    assert "Eicar-Test-Signature" in page and "quarantined" in page
    assert "view/bytes" not in page and "viewer-download" not in page
    assert client.get(f"{view_url(node)}/bytes").status_code == 403
    assert "secret words" not in client.get(view_url(text)).content.decode()
    assert services.thumbnail_make(node.current_version_id) == DerivedState.PENDING   # never made
    assert not AuditEvent.objects.filter(action="file.viewed").exists()


def test_an_html_file_is_shown_as_escaped_highlighted_text_never_as_a_page(alice, files):
    node = files.node("/site/index.html", b"<script>alert(1)</script><h1>hi</h1>")
    client = page_client(alice)
    page = client.get(view_url(node))
    html = page.content.decode()
    assert "<script>alert" not in html and "<h1>hi" not in html
    text = html.split('id="viewer-text"', 1)[1]
    assert "&lt;" in text and "alert" in text and 'class="highlight"' in text
    assert "script-src 'self'" in page["Content-Security-Policy"]
    assert client.get(f"{view_url(node)}/bytes").status_code == 400
    assert AuditEvent.objects.filter(action="file.viewed", target_id=str(node.pk)).count() == 1


def test_an_svg_is_never_served_inline(alice, files):
    node = files.node("/logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')
    response = page_client(alice).get(f"{view_url(node)}/bytes")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert response["Content-Security-Policy"] == "sandbox"


def test_markdown_is_rendered_and_sanitised(alice, files):
    source = (b"# Title\n\n<script>alert(1)</script>\n\n[bad](javascript:alert(1)) [good](https://example.com)\n\n"
              b"| a | b |\n|---|---|\n| 1 | 2 |\n")
    node = files.node("/README.md", source)
    html = page_client(alice).get(view_url(node)).content.decode()
    body = html.split('id="viewer-markdown"', 1)[1]
    assert "<h1>Title</h1>" in body and "<table>" in body
    assert "<script>alert" not in html and "href=\"javascript" not in body and "&lt;script&gt;" in body
    assert 'href="https://example.com"' in body


def test_long_text_shows_only_its_first_bytes(alice, files, settings):
    settings.VIEWER_TEXT_BYTES = 1024
    node = files.node("/big.log", b"line\n" * 1000)
    html = page_client(alice).get(view_url(node)).content.decode()
    assert "Showing the first 1.0" in html and html.count("line") < 300


def test_an_office_document_asks_for_its_rendition_once_and_polls_until_it_is_made(alice, files):
    node = files.node("/Docs/plan.docx", b"not really a docx")
    client = page_client(alice)
    page = client.get(view_url(node)).content.decode()
    assert 'hx-trigger="every 2s"' in page and f"/items/{node.pk}/view/status" in page
    assert DerivedFile.objects.filter(version=node.current_version, kind=DerivedKind.PDF).count() == 1
    client.get(view_url(node))
    assert DerivedFile.objects.filter(version=node.current_version, kind=DerivedKind.PDF).count() == 1
    DerivedFile.objects.filter(version=node.current_version).update(state=DerivedState.UNSUPPORTED)
    status = client.get(f"{view_url(node)}/status", **HTMX).content.decode()
    assert "LibreOffice is not installed" in status and "hx-trigger" not in status
    assert client.get(f"{view_url(node)}/rendition").status_code == 404


def test_audio_and_video_play_from_the_range_capable_bytes_endpoint(alice, files):
    audio = files.node("/m/song.mp3", b"ID3" + b"\0" * 5000)
    video = files.node("/m/clip.mp4", b"\0" * 5000)
    client = page_client(alice)
    assert "<audio" in client.get(view_url(audio)).content.decode()
    assert "<video" in client.get(view_url(video)).content.decode()
    first = client.get(f"{view_url(video)}/bytes", HTTP_RANGE="bytes=0-99")
    rest = client.get(f"{view_url(video)}/bytes", HTTP_RANGE="bytes=100-")
    assert first.status_code == rest.status_code == 206 and first["Content-Type"] == "video/mp4"
    assert AuditEvent.objects.filter(action="file.viewed", target_id=str(video.pk)).count() == 1  # one opening
