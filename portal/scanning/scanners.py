"""Pluggable scanners. Each looks at one piece of content and answers with a
finding (a signature name), None (nothing found) or raises ScannerUnavailable
when it cannot answer; the service combines them and applies the policy.

ClamdScanner speaks clamd's INSTREAM protocol itself (the ``clamd`` PyPI
package has had no release since 2014): ``zINSTREAM\\0``, then chunks each
prefixed by their length as a 4-byte big-endian integer, then a zero length;
clamd answers ``stream: OK\\0``, ``stream: <signature> FOUND\\0`` or ``... ERROR\\0``.
"""

from __future__ import annotations

import hashlib
import socket
import struct
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

from django.conf import settings

CHUNK = 64 * 1024


class ScannerUnavailable(Exception):
    """The scanner could not give an answer (unreachable, timed out, refused the stream)."""


class Content:
    """The bytes of one version as scanners see them: read at most once for
    both clamd and the digest (the SHA-256 is computed while clamd reads)."""

    def __init__(self, *, name: str, size: int, opener: Callable[[], Iterable[bytes]], sha256: str | None = None):
        self.name, self.size, self._opener = name, size, opener
        self._sha256 = sha256
        self._digest = None

    def chunks(self) -> Iterator[bytes]:
        digest = hashlib.sha256()
        for chunk in self._opener():
            digest.update(chunk)
            yield chunk
        self._digest = digest.hexdigest()   # only once every byte went through

    @property
    def sha256(self) -> str:
        if self._sha256 is None:
            if self._digest is None:
                for _ in self.chunks():
                    pass
            self._sha256 = self._digest
        return self._sha256


class Scanner(Protocol):
    name: str

    def scan(self, content: Content) -> str | None:
        """A signature name when the content is refused, None when clean."""


class ExtensionScanner:
    name = "extension"

    def __init__(self, extensions: Iterable[str]):
        self.extensions = {ext.strip().lower().lstrip(".") for ext in extensions if ext.strip()}

    def scan(self, content: Content) -> str | None:
        return self.signature_for(content.name)

    def signature_for(self, name: str) -> str | None:
        _, dot, ext = name.rstrip(". ").rpartition(".")
        ext = ext.lower()
        return f"Blocked.Extension.{ext}" if dot and ext in self.extensions else None


def blocked_name(name: str) -> bool:
    """Whether the configured extension rule refuses this file name."""
    return ExtensionScanner(settings.SCAN_BLOCKED_EXTENSIONS).signature_for(name) is not None


class Sha256BlocklistScanner:
    name = "sha256-blocklist"

    def __init__(self, digests: Iterable[str] = ()):
        self.digests = {digest.strip().lower() for digest in digests if digest.strip()}

    def scan(self, content: Content) -> str | None:
        from portal.scanning.models import BlockedHash

        sha256 = content.sha256
        if sha256 in self.digests or BlockedHash.objects.filter(sha256=sha256).exists():
            return f"Blocked.SHA256.{sha256[:16]}"
        return None


class ClamdScanner:
    name = "clamav"

    def __init__(self, *, socket_path: str = "", host: str = "", port: int = 3310, timeout: float = 60.0):
        self.socket_path, self.host, self.port, self.timeout = socket_path, host, port, timeout

    def _connect(self) -> socket.socket:
        try:
            if self.socket_path:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(self.timeout)
                sock.connect(self.socket_path)
                return sock
            return socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as exc:
            raise ScannerUnavailable(f"clamd at {self.address} is not answering: {exc}") from exc

    @property
    def address(self) -> str:
        return self.socket_path or f"{self.host}:{self.port}"

    def scan(self, content: Content) -> str | None:
        with self._connect() as sock:
            try:
                sock.sendall(b"zINSTREAM\0")
                for chunk in content.chunks():
                    for start in range(0, len(chunk), CHUNK):
                        piece = chunk[start:start + CHUNK]
                        sock.sendall(struct.pack("!L", len(piece)) + piece)
                sock.sendall(struct.pack("!L", 0))
                reply = _read_reply(sock)
            except OSError as exc:  # clamd hangs up when the stream passes its StreamMaxLength
                raise ScannerUnavailable(f"clamd at {self.address} broke off the scan: {exc}") from exc
        return _parse_reply(reply, self.address)


def _read_reply(sock: socket.socket) -> bytes:
    reply = b""
    while not reply.endswith(b"\0"):
        data = sock.recv(4096)
        if not data:
            break
        reply += data
    return reply.rstrip(b"\0")


def _parse_reply(reply: bytes, address: str) -> str | None:
    text = reply.decode("utf-8", "replace").strip()
    body = text.split(":", 1)[1].strip() if ":" in text else text
    if body == "OK":
        return None
    if body.endswith(" FOUND"):
        return body[: -len(" FOUND")].strip()
    raise ScannerUnavailable(f"clamd at {address} could not scan the file: {text or 'no answer'}")


def configured_scanners() -> list[Scanner]:
    """Cheap ones first; clamd only when a socket or host is configured."""
    scanners: list[Scanner] = [ExtensionScanner(settings.SCAN_BLOCKED_EXTENSIONS)]
    if settings.CLAMD_SOCKET or settings.CLAMD_HOST:
        scanners.append(ClamdScanner(socket_path=settings.CLAMD_SOCKET, host=settings.CLAMD_HOST,
                                     port=settings.CLAMD_PORT, timeout=settings.CLAMD_TIMEOUT))
    scanners.append(Sha256BlocklistScanner(settings.SCAN_SHA256_BLOCKLIST))
    return scanners
