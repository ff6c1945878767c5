"""The scanners on their own: clamd over its socket (real signatures), the
extension list and the SHA-256 blocklist."""

from __future__ import annotations

import hashlib
import io

import pytest

from portal.scanning.models import BlockedHash
from portal.scanning.scanners import (ClamdScanner, Content, ExtensionScanner, ScannerUnavailable,
                                      Sha256BlocklistScanner)
from tests.scanning.conftest import BODY_SIGNATURE, CLEAN, HASH_SIGNATURE, INFECTED, MARKER


def content(data: bytes, name: str = "file.bin", piece: int = 7) -> Content:
    """Content read in ``piece``-sized chunks, as a store stream hands them out."""

    def opener():
        stream = io.BytesIO(data)
        while chunk := stream.read(piece):
            yield chunk

    return Content(name=name, size=len(data), opener=opener)


def test_clamd_finds_the_test_payload_by_its_hash(clamd_socket):
    assert ClamdScanner(socket_path=clamd_socket).scan(content(INFECTED)) == HASH_SIGNATURE


def test_clamd_finds_a_body_signature_inside_a_larger_file(clamd_socket):
    data = CLEAN * 50 + MARKER + CLEAN * 50
    assert ClamdScanner(socket_path=clamd_socket).scan(content(data, piece=100_000)) == BODY_SIGNATURE


def test_clamd_passes_clean_content_and_the_digest_comes_along(clamd_socket):
    scanned = content(CLEAN)
    assert ClamdScanner(socket_path=clamd_socket).scan(scanned) is None
    assert scanned.sha256 == hashlib.sha256(CLEAN).hexdigest()


def test_clamd_passes_an_empty_file(clamd_socket):
    assert ClamdScanner(socket_path=clamd_socket).scan(content(b"")) is None


def test_an_unreachable_clamd_is_unavailable_not_clean(tmp_path):
    with pytest.raises(ScannerUnavailable, match="not answering"):
        ClamdScanner(socket_path=str(tmp_path / "none.sock")).scan(content(CLEAN))
    with pytest.raises(ScannerUnavailable):
        ClamdScanner(host="127.0.0.1", port=1, timeout=2).scan(content(CLEAN))


@pytest.mark.parametrize("name, blocked", [
    ("invoice.pdf.scr", True), ("SETUP.SCR", True), ("run.vbs", True), ("report.pdf", False),
    ("scr", False), ("notes.txt", False), ("archive.tar.gz", False)])
def test_the_extension_scanner_looks_at_the_last_extension_only(name, blocked):
    found = ExtensionScanner(["scr", "vbs"]).scan(content(b"x", name=name))
    assert bool(found) is blocked


@pytest.mark.django_db
def test_the_blocklist_takes_digests_from_settings_and_from_the_admin_table():
    from_settings = Sha256BlocklistScanner([hashlib.sha256(INFECTED).hexdigest().upper()])
    assert from_settings.scan(content(INFECTED)).startswith("Blocked.SHA256.")
    assert from_settings.scan(content(CLEAN)) is None
    BlockedHash.objects.create(sha256=hashlib.sha256(CLEAN).hexdigest().upper())
    assert Sha256BlocklistScanner().scan(content(CLEAN)).startswith("Blocked.SHA256.")
