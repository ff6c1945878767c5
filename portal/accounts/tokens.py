"""Format of personal access tokens: ``coffer_<selector>_<secret>``.

The selector (64 bits, public) finds the row; the secret (256 bits from
``secrets``) is stored only as SHA-256, which is enough for a random secret of
that size and keeps verification fast on every API call.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

PREFIX = "coffer"
_FORMAT = re.compile(rf"^{PREFIX}_([0-9a-f]{{16}})_([A-Za-z0-9_-]{{43}})$")


def generate() -> tuple[str, str, str]:
    """Return (plaintext token, selector, verifier hash)."""
    selector = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return f"{PREFIX}_{selector}_{secret}", selector, hash_secret(secret)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse(raw: str) -> tuple[str, str] | None:
    """(selector, secret) or None when the string is not a Coffer token."""
    match = _FORMAT.match(raw.strip())
    return (match.group(1), match.group(2)) if match else None


def verify(secret: str, verifier_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), verifier_hash)
