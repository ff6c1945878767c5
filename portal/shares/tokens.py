"""Link tokens: ``<selector><secret>``, URL-safe, 16 + 32 characters.

The selector (64 bits, public) finds the row with an indexed lookup; the
secret (192 bits from ``secrets``) is kept only as SHA-256 and compared in
constant time, so neither a database reader nor a stopwatch learns a working
token. The whole token is also kept sealed (AES-256-GCM under a key derived
from the master key) so that the link's owner can copy it again later.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

_FORMAT = re.compile(r"^([0-9a-f]{16})([A-Za-z0-9_-]{32})$")


def generate() -> tuple[str, str, str]:
    """(token, selector, verifier)."""
    selector = secrets.token_hex(8)
    secret = secrets.token_urlsafe(24)
    return selector + secret, selector, _hash(secret)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse(token: str) -> tuple[str, str] | None:
    match = _FORMAT.match(token or "")
    return (match.group(1), match.group(2)) if match else None


def matches(secret: str, verifier: str) -> bool:
    return hmac.compare_digest(_hash(secret), verifier)


def _key() -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"coffer share-link tokens").derive(settings.MASTER_KEY.encode())


def seal(token: str) -> str:
    nonce = os.urandom(12)
    return base64.urlsafe_b64encode(nonce + AESGCM(_key()).encrypt(nonce, token.encode(), None)).decode()


def unseal(sealed: str) -> str:
    raw = base64.urlsafe_b64decode(sealed.encode())
    return AESGCM(_key()).decrypt(raw[:12], raw[12:], None).decode()
