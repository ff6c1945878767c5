"""Preview-only share links show files in the portal's viewer (the same
partials and rendition selectors), from watermarked page images: never the
original bytes."""

from __future__ import annotations

import pytest
from django.test import Client

from portal.previews import services
from portal.shares.services import share_link_create
from tests.previews.conftest import png_bytes, scanned
from tests.previews.test_tasks import docx_bytes

pytestmark = pytest.mark.django_db


def share(alice, node, permission="preview") -> str:
    _link, token = share_link_create(actor=alice, node_id=node.pk, permission=permission)
    return token


def test_a_preview_link_shows_an_office_document_as_page_images_of_its_rendition(alice, files):
    node = files.node("/Docs/plan.docx", docx_bytes("Shared plan"))
    scanned(node.current_version)
    token = share(alice, node)
    visitor = Client()
    waiting = visitor.get(f"/s/{token}").content.decode()
    assert "being prepared" in waiting and "hx-trigger=\"every" not in waiting   # asked for, on demand
    services.rendition_make(node.current_version_id)   # what the queued task does
    page = visitor.get(f"/s/{token}").content.decode()
    assert "data-page-images" in page and 'data-pages="1"' in page and "data-viewer" in page
    assert "/download" not in page and "data-pdf=" not in page   # no path to the bytes
    image = visitor.get(f"/s/{token}/preview?page=1")
    assert image.status_code == 200 and image["Content-Type"] == "image/png"


def test_a_preview_link_shows_markdown_sanitised_and_an_image_through_its_rendition(alice, files):
    note = files.node("/n.md", b"# Hi\n\n<script>alert(1)</script>\n")
    photo = files.node("/p.png", png_bytes())
    visitor = Client()
    page = visitor.get(f"/s/{share(alice, note)}").content.decode()
    assert "<h1>Hi</h1>" in page and "<script>alert" not in page
    token = share(alice, photo)
    page = visitor.get(f"/s/{token}").content.decode()
    assert f"/s/{token}/preview?page=1" in page and "data-zoom-image" in page and "/download" not in page


def test_audio_on_a_preview_link_has_no_player_since_it_would_hand_out_the_file(alice, files):
    song = files.node("/s.mp3", b"ID3" + b"\0" * 100)
    page = Client().get(f"/s/{share(alice, song)}").content.decode()
    assert "<audio" not in page and "no preview" in page


def test_a_file_inside_a_shared_folder_gets_the_viewer_with_its_own_preview_address(alice, files):
    photo = files.node("/Album/Summer/p.png", png_bytes())
    token = share(alice, photo.parent)
    visitor = Client()
    page = visitor.get(f"/s/{token}/f/p.png")
    assert page.status_code == 200, page.content[:300]
    assert f"/s/{token}/preview/p.png?page=1" in page.content.decode()
    assert visitor.get(f"/s/{token}/preview/p.png?page=1")["Content-Type"] == "image/png"
