"""Link tokens: ``<selector><secret>``, URL-safe, 16 + 32 characters, a
192-bit secret (the scheme, hashing and comparison are ``portal.core.tokens``).

The whole token is also kept sealed (AES-256-GCM under the master key's
``share-link-tokens`` key) so that the link's owner can copy it again later.
"""

from __future__ import annotations

import base64
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

from portal.core.keys import SHARE_LINK_TOKENS, derive_key
from portal.core.tokens import TokenFormat
from portal.core.tokens import verify as matches

FORMAT = TokenFormat(secret_bytes=24)
generate = FORMAT.generate
parse = FORMAT.parse


def link_url(token: str) -> str:
    """The public address of the link with ``token``."""
    return f"{settings.PUBLIC_URL.rstrip('/')}/s/{token}"


def seal(token: str) -> str:
    nonce = os.urandom(12)
    aead = AESGCM(derive_key(SHARE_LINK_TOKENS))
    return base64.urlsafe_b64encode(nonce + aead.encrypt(nonce, token.encode(), None)).decode()


def unseal(sealed: str) -> str:
    raw = base64.urlsafe_b64decode(sealed.encode())
    return AESGCM(derive_key(SHARE_LINK_TOKENS)).decrypt(raw[:12], raw[12:], None).decode()


__all__ = ["FORMAT", "generate", "link_url", "matches", "parse", "seal", "unseal"]
