"""Preview bombs: a PNG of a few kilobytes that decodes to 13000×13000
pixels cost 240 MB per anonymous preview. The portal now reads the image's
header, refuses past PORTAL_PREVIEW_MAX_PIXELS before decoding a pixel, and
answers "no preview". Performed the way an anonymous visitor would: the
share link's preview over HTTP on a live server."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import zlib

import pytest
import requests
from PIL import Image

from portal.shares import previews

pytestmark = pytest.mark.django_db(transaction=True)

SIDE = 13_000


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png(side: int = SIDE) -> bytes:
    """A valid 1-bit greyscale PNG of side×side white pixels, compressed row by
    row (never held whole in memory): about 20 KB on disk, 169 Mpx decoded."""
    row = b"\x00" + b"\xff" * ((side + 7) // 8)
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def bomb() -> bytes:
    data = bomb_png()
    assert len(data) < 64 * 1024
    return data


def test_a_preview_bomb_gets_no_preview_through_a_share_link(live_server, api, alice, team, upload, bomb,
                                                            settings):
    settings.PUBLIC_URL = live_server.url
    meta = upload(api.as_user(alice), team, "/poster.png", bomb)
    link = api.as_user(alice).post("/api/v1/shares", {"node": meta["id"], "permission": "preview"},
                                   format="json").json()
    page = requests.get(f"{live_server.url}/s/{link['token']}", timeout=30)
    assert page.status_code == 200
    answer = requests.get(f"{live_server.url}/s/{link['token']}/preview", timeout=30)
    assert answer.status_code == 415, answer.status_code
    assert "too large to preview" in answer.text and len(answer.content) < 16 * 1024   # a page, not pixels
    as_json = requests.get(f"{live_server.url}/s/{link['token']}/preview", timeout=30,
                           headers={"Accept": "application/json"})
    assert as_json.status_code == 415 and as_json.json()["code"] == "no_preview"
    assert len(as_json.content) < 1024


def test_the_renderer_refuses_from_the_header_before_decoding(bomb, settings):
    with pytest.raises(previews.ImageTooLarge) as refused:
        previews.open_image(bomb)
    assert refused.value.detail == {"max_pixels": settings.PREVIEW_MAX_PIXELS}
    # Pillow's own limit is lowered too: whatever opens an image elsewhere refuses this one.
    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(bomb))
    settings.PREVIEW_MAX_PIXELS = 100_000_000   # 169 Mpx: past the limit, not past twice it (Pillow's own refusal)
    with pytest.raises(previews.ImageTooLarge):
        previews.open_image(bomb)


def test_a_large_image_under_the_limit_still_previews(settings, bomb):
    settings.PREVIEW_MAX_PIXELS = 200_000_000
    with previews.open_image(bomb_png(2000)) as image:
        image.thumbnail((previews.MAX_SIDE, previews.MAX_SIDE))
        assert image.size == (1600, 1600)


CHILD = r"""
import io, json, sys
import django
django.setup()
from PIL import Image
from portal.shares import previews

def rss(field):   # MiB, from the kernel's own account of this process
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field)) // 1024

def peak_of(work):
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")             # reset the peak (VmHWM) to what is resident now
    before = rss("VmRSS:")
    work()
    return rss("VmHWM:") - before

data = sys.stdin.buffer.read()
def refuse():
    try:
        previews.open_image(data)
    except previews.ImageTooLarge:
        pass
def decode():
    Image.MAX_IMAGE_PIXELS = None   # the control: what decoding it costs
    Image.open(io.BytesIO(data)).load()
print(json.dumps({"refused": peak_of(refuse), "decoded": peak_of(decode)}))
"""


def test_refusing_a_bomb_costs_no_memory_while_decoding_it_would(bomb):
    """Measured in a fresh process (peak resident memory), with the decode
    the portal no longer does as the control that shows the measure works."""
    env = {**os.environ, "PORTAL_DEBUG": "1", "DJANGO_SETTINGS_MODULE": "portal.settings"}
    child = subprocess.run([sys.executable, "-c", CHILD], input=bomb, capture_output=True, env=env, timeout=120,
                           check=True, cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    grown = json.loads(child.stdout.decode().strip().splitlines()[-1])
    assert grown["refused"] < 16, grown           # MiB
    assert grown["decoded"] > 150, grown          # the decode alone: 169 Mpx at one byte each
