"""Derived files made by the tasks: a thumbnail once per version, a real
LibreOffice conversion, its time limit, and the states without LibreOffice."""

from __future__ import annotations

import io
import shutil
import time
import zipfile

import pypdfium2 as pdfium
import pytest
from PIL import Image

from portal.previews import office, selectors, services, tasks
from portal.previews.models import DerivedFile, DerivedKind, DerivedState
from portal.scanning.models import ScanState
from portal.storage.derived import derived_storage
from tests.outbox.support import follow_ups
from tests.previews.conftest import png_bytes, scanned

pytestmark = pytest.mark.django_db

_DOCX_PARTS = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/word/document.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
        '</Types>'),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Target="word/document.xml" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"/>'
        '</Relationships>'),
}


def docx_bytes(text: str) -> bytes:
    """A minimal Word document, its zip written by hand (python-docx is not a dependency)."""
    document = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
                f'<w:body><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:body></w:document>')
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in {**_DOCX_PARTS, "word/document.xml": document}.items():
            archive.writestr(name, body)
    return out.getvalue()


def pdf_text(data: bytes) -> str:
    document = pdfium.PdfDocument(data)
    try:
        return "".join(document[i].get_textpage().get_text_range() for i in range(len(document)))
    finally:
        document.close()


def test_a_thumbnail_is_made_once_per_version(files):
    node = files.node("/p.png", png_bytes((1200, 800)))
    version = node.current_version
    scanned(version)
    assert tasks.make_thumbnail(version.pk) == DerivedState.READY
    derived = DerivedFile.objects.get(version=version, kind=DerivedKind.THUMBNAIL)
    with derived_storage().open(derived.name) as stored, Image.open(stored) as image:
        assert image.format == "WEBP" and max(image.size) == 256
    assert tasks.make_thumbnail(version.pk) == DerivedState.READY   # again: nothing new
    assert DerivedFile.objects.filter(version=version).count() == 1
    assert DerivedFile.objects.get(pk=derived.pk).finished_at == derived.finished_at
    urls = selectors.thumbnail_urls([node, node.parent])
    assert urls == {node.pk: f"/spaces/{node.space_id}/items/{node.pk}/thumbnail?v={version.pk}"}


def test_thumbnail_urls_takes_one_query_for_a_page(files, django_assert_num_queries):
    nodes = [files.node(f"/many/{i}.png", png_bytes((20, 20))) for i in range(5)]
    for node in nodes:
        scanned(node.current_version)
        services.thumbnail_make(node.current_version_id)
    with django_assert_num_queries(1):
        assert len(selectors.thumbnail_urls(nodes)) == 5


def test_a_quarantined_image_gets_no_thumbnail_and_a_broken_one_fails_once(files):
    bad = files.node("/bad.png", png_bytes())
    scanned(bad.current_version, ScanState.FLAGGED, "Eicar")
    assert services.thumbnail_make(bad.current_version_id) == DerivedState.PENDING
    assert selectors.thumbnail_urls([bad]) == {}
    broken = files.node("/broken.png", b"\x89PNG not really")
    scanned(broken.current_version)
    assert services.thumbnail_make(broken.current_version_id) == DerivedState.FAILED
    assert services.thumbnail_make(broken.current_version_id) == DerivedState.FAILED


def test_a_clean_scan_queues_the_thumbnail(files, django_capture_on_commit_callbacks):
    from portal.scanning.tasks import scan_version

    image = files.node("/s.png", png_bytes())
    text = files.node("/s.txt", b"words")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        scan_version(image.current_version_id)
        scan_version(text.current_version_id)
    assert follow_ups(callbacks, "previews.make_thumbnail") == [image.current_version_id]


def test_libreoffice_turns_a_docx_into_a_pdf_with_its_text(files, alice):
    assert shutil.which("soffice"), "LibreOffice (libreoffice-core, -writer) is part of the setup"
    node = files.node("/Docs/plan.docx", docx_bytes("Quarterly plan for Coffer"))
    scanned(node.current_version)
    assert tasks.make_rendition(node.current_version_id) == DerivedState.READY
    with selectors.rendition_pdf(node.current_version) as rendition:
        data = rendition.read()
    assert data.startswith(b"%PDF") and "Quarterly plan for Coffer" in pdf_text(data)
    assert tasks.make_rendition(node.current_version_id) == DerivedState.READY   # cached: no second run
    from tests.web.live import page_client

    page = page_client(alice).get(f"/spaces/{node.space_id}/items/{node.pk}/view").content.decode()
    assert "data-pdf=" in page and "view/rendition" in page and "every 2s" not in page
    served = page_client(alice).get(f"/spaces/{node.space_id}/items/{node.pk}/view/rendition")
    assert served["Content-Type"] == "application/pdf" and served["Content-Security-Policy"] == "sandbox"


def test_a_conversion_that_runs_too_long_is_killed_with_its_process_group(tmp_path, monkeypatch):
    slow = tmp_path / "soffice"
    marker = tmp_path / "child.pid"
    slow.write_text(f"#!/bin/sh\nsleep 300 &\necho $! > {marker}\nwait\n")
    slow.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    source = tmp_path / "a.docx"
    source.write_bytes(docx_bytes("x"))
    started = time.monotonic()
    with pytest.raises(office.ConversionFailed, match="longer than 1 s"):
        office.convert_to_pdf(source, timeout=1, memory_mb=512)
    assert time.monotonic() - started < 10
    child = int(marker.read_text())
    for _ in range(50):
        try:
            with open(f"/proc/{child}/stat") as stat:
                if stat.read().split(") ", 1)[1].startswith("Z"):
                    break
        except FileNotFoundError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the converter's child survived the time limit")


def test_without_libreoffice_the_rendition_is_unsupported(files, monkeypatch):
    monkeypatch.setattr(office, "soffice_path", lambda: None)
    node = files.node("/Docs/a.odt", b"whatever")
    scanned(node.current_version)
    assert services.rendition_make(node.current_version_id) == DerivedState.UNSUPPORTED
    assert selectors.rendition_pdf(node.current_version) is None


def test_a_deleted_version_takes_its_derived_file_with_it(files, django_capture_on_commit_callbacks):
    node = files.node("/gone.png", png_bytes((50, 50)))
    scanned(node.current_version)
    services.thumbnail_make(node.current_version_id)
    name = DerivedFile.objects.get(version=node.current_version).name
    assert derived_storage().exists(name)
    with django_capture_on_commit_callbacks(execute=True):
        node.delete()
    assert not DerivedFile.objects.exists() and not derived_storage().exists(name)


def test_the_converter_runs_under_the_memory_limit(tmp_path, monkeypatch):
    fake = tmp_path / "soffice"
    seen = tmp_path / "limit"
    fake.write_text(f"#!/bin/sh\nulimit -v > {seen}\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    source = tmp_path / "a.odt"
    source.write_bytes(b"x")
    with pytest.raises(office.ConversionFailed, match="exit 3"):
        office.convert_to_pdf(source, timeout=10, memory_mb=700)
    assert int(seen.read_text()) == 700 * 1024   # KiB


def test_releasing_a_quarantined_image_queues_its_thumbnail(files, admin, django_capture_on_commit_callbacks):
    from portal.scanning.models import ScanVerdict
    from portal.scanning.services import quarantine_release

    node = files.node("/fp.png", png_bytes((40, 40)))
    scanned(node.current_version, ScanState.FLAGGED, "False-Positive")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        quarantine_release(actor=admin, verdict_id=ScanVerdict.objects.get(version=node.current_version).pk)
    assert follow_ups(callbacks, "previews.make_thumbnail") == [node.current_version_id]


def test_a_rendition_lost_with_its_worker_is_queued_again_once(files, settings, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    node = files.node("/Docs/x.odt", b"x")
    version = node.current_version
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.rendition_request(version)
        services.rendition_request(version)
    assert follow_ups(callbacks, "previews.make_rendition") == [version.pk]
    DerivedFile.objects.filter(version=version).update(
        created_at=timezone.now() - timedelta(seconds=6 * settings.OFFICE_TIMEOUT))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.rendition_request(version)
        services.rendition_request(version)
    assert follow_ups(callbacks, "previews.make_rendition") == [version.pk]
