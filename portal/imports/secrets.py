"""Source secrets (an S3 secret key, a WebDAV password) sealed at rest with
their own key (portal/core/keys.py, IMPORT_SECRETS): the worker needs them in
clear to read the source, nobody needs to see them again."""

from __future__ import annotations

import base64
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from portal.core.keys import IMPORT_SECRETS, derive_key


def seal(secret: str) -> str:
    if not secret:
        return ""
    nonce = os.urandom(12)
    return base64.urlsafe_b64encode(nonce + AESGCM(derive_key(IMPORT_SECRETS)).encrypt(nonce, secret.encode(), None)).decode()


def unseal(sealed: str) -> str:
    if not sealed:
        return ""
    raw = base64.urlsafe_b64decode(sealed.encode())
    return AESGCM(derive_key(IMPORT_SECRETS)).decrypt(raw[:12], raw[12:], None).decode()
