"""Previews through links: renditions made by the portal (never the
original bytes), the watermark drawn into them, and escaped text."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageChops

from tests.shares.conftest import body

pytestmark = pytest.mark.django_db


@pytest.fixture
def put(api, alice, team, upload):
    """``put(path, data)`` -> a new file's metadata in the team space."""
    return lambda path, data: upload(api.as_user(alice), team, path, data)


def png(width: int, height: int) -> bytes:
    image = Image.new("RGB", (width, height), (30, 120, 200))
    for x in range(0, width, 50):
        image.paste((240, 200, 40), (x, 0, x + 10, height))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def as_image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_an_image_preview_is_a_scaled_down_png_not_the_original(put, share, visitor):
    original = png(2400, 1200)
    photo = put("/photo.png", original)
    link = share(photo["id"], permission="preview")
    page = visitor().get(f"/s/{link['token']}")
    assert f'/s/{link["token"]}/preview'.encode() in page.content
    answer = visitor().get(f"/s/{link['token']}/preview")
    assert answer.status_code == 200 and answer["Content-Type"] == "image/png"
    assert answer["Content-Disposition"] == "inline"
    preview = body(answer)
    assert preview != original
    image = as_image(preview)
    assert image.format == "PNG" and max(image.size) <= 1600 and image.size == (1600, 800)


def test_a_small_image_is_re_encoded_without_what_the_file_carried(put, share, visitor):
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", "internal: project falcon")
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "white").save(out, format="PNG", pnginfo=info)
    photo = put("/small.png", out.getvalue())
    preview = body(visitor().get(f"/s/{share(photo['id'], permission='preview')['token']}/preview"))
    assert preview != out.getvalue() and b"falcon" not in preview
    assert as_image(preview).size == (40, 30)


def test_a_watermark_is_drawn_into_the_preview(put, share, visitor):
    photo = put("/photo.png", png(800, 600))
    plain = body(visitor().get(f"/s/{share(photo['id'], permission='preview')['token']}/preview"))
    marked_link = share(photo["id"], permission="preview", watermark="CONFIDENTIAL carol@example.com")
    marked = body(visitor().get(f"/s/{marked_link['token']}/preview"))
    difference = ImageChops.difference(as_image(plain).convert("RGB"), as_image(marked).convert("RGB"))
    assert difference.getbbox() is not None
    changed = difference.convert("L").point(lambda value: 255 if value else 0).histogram()[255]
    assert changed > 800 * 600 // 100  # drawn across the image, not a stray pixel


def test_a_pdf_preview_is_its_first_page_as_png(put, share, visitor):
    pages = [Image.new("RGB", (600, 800), colour) for colour in ((200, 0, 0), (0, 0, 200))]
    out = io.BytesIO()
    pages[0].save(out, format="PDF", save_all=True, append_images=pages[1:])
    pdf = put("/report.pdf", out.getvalue())
    link = share(pdf["id"], permission="preview")
    answer = visitor().get(f"/s/{link['token']}/preview")
    assert answer.status_code == 200 and answer["Content-Type"] == "image/png"
    assert answer["X-Preview-Pages"] == "2"
    image = as_image(body(answer)).convert("RGB")
    assert max(image.size) <= 1600
    red, green, blue = image.getpixel((image.size[0] // 2, image.size[1] // 2))
    assert red > 150 and blue < 60  # page 1 is the red one
    second = as_image(body(visitor().get(f"/s/{link['token']}/preview?page=2"))).convert("RGB")
    assert second.getpixel((second.size[0] // 2, second.size[1] // 2))[2] > 150
    assert visitor().get(f"/s/{link['token']}/preview?page=3").status_code == 400


def test_a_text_file_is_shown_as_escaped_text(put, share, visitor):
    note = put("/note.txt", b"hello <script>alert('x')</script> & bye")
    page = visitor().get(f"/s/{share(note['id'], permission='preview')['token']}")
    assert page.status_code == 200
    assert b"<script>alert" not in page.content
    # Shown by the portal's viewer, escaped by Pygments (quotes need no escaping between tags).
    assert b"&lt;script&gt;alert('x')&lt;/script&gt; &amp; bye" in page.content


@pytest.mark.parametrize("name", ["archive.zip", "data.bin", "note.txt"])
def test_files_without_an_image_rendition_answer_415_on_preview(put, share, visitor, name):
    item = put(f"/{name}", b"PK\x03\x04 not really" if name != "note.txt" else b"plain text")
    link = share(item["id"], permission="preview")
    answer = visitor().get(f"/s/{link['token']}/preview")
    assert answer.status_code == 415 and answer.context["code"] == "no_preview"
    if name != "note.txt":
        assert b"no preview" in visitor().get(f"/s/{link['token']}").content


def test_a_broken_image_has_no_preview(put, share, visitor):
    broken = put("/broken.png", b"\x89PNG\r\n\x1a\n but not an image")
    assert visitor().get(f"/s/{share(broken['id'], permission='preview')['token']}/preview").status_code == 415
