"""Device and enrollment credentials: ``<prefix>_<16 hex selector>_<43 url-safe secret>``.

The selector finds the row; only SHA-256 of the secret is stored (enough for
256 random bits) and compared in constant time. Device tokens are
``cofferdev_...``, enrollment tokens ``cofferenr_...``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

DEVICE = "cofferdev"
ENROLLMENT = "cofferenr"


def _format(prefix: str) -> re.Pattern:
    return re.compile(rf"^{prefix}_([0-9a-f]{{16}})_([A-Za-z0-9_-]{{43}})$")


_FORMATS = {DEVICE: _format(DEVICE), ENROLLMENT: _format(ENROLLMENT)}


def generate(prefix: str) -> tuple[str, str, str]:
    """(plaintext token, selector, verifier hash)."""
    selector = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return f"{prefix}_{selector}_{secret}", selector, hash_secret(secret)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse(prefix: str, raw) -> tuple[str, str] | None:
    """(selector, secret), or None when ``raw`` is not a token of that kind."""
    if not isinstance(raw, str):
        return None
    match = _FORMATS[prefix].match(raw.strip())
    return (match.group(1), match.group(2)) if match else None


def verify(secret: str, verifier_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), verifier_hash)
