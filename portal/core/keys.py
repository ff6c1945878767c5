"""Keys derived from ``PORTAL_MASTER_KEY``, one per purpose, so that no two
uses share a key and none uses the master key itself.

Each purpose's derivation is fixed forever: data is stored under these keys
(wrapped backup key sets, sealed share-link tokens, the audit chain's HMACs),
so changing one would make that data unreadable. New purposes use HKDF-SHA256
with their own info string; the audit chain keeps the HMAC it was sealed with.
tests/core/test_keys.py pins every purpose's output.
"""

from __future__ import annotations

import hmac
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

BACKUP_KEYS = "backup-keys"  # wraps each user's backup key set
SHARE_LINK_TOKENS = "share-link-tokens"  # seals link tokens so their owner can copy them again
AUDIT_CHAIN = "audit-chain"  # the audit log's hash chain HMAC
WEBHOOK_SECRETS = "webhook-secrets"  # seals webhook signing secrets (needed in clear to sign)
IMPORT_SECRETS = "import-secrets"  # seals import sources' S3 secret keys and WebDAV passwords

_HKDF, _HMAC = "hkdf", "hmac"
_PURPOSES: dict[str, tuple[str, bytes]] = {
    BACKUP_KEYS: (_HKDF, b"coffer backup keys"),
    SHARE_LINK_TOKENS: (_HKDF, b"coffer share-link tokens"),
    AUDIT_CHAIN: (_HMAC, b"coffer/audit-chain/v1"),
    WEBHOOK_SECRETS: (_HKDF, b"coffer webhook secrets"),
    IMPORT_SECRETS: (_HKDF, b"coffer import secrets"),
}


def derive_key(purpose: str, *, master_key: str | None = None) -> bytes:
    """The 32-byte key for ``purpose``, derived from ``master_key`` (default
    ``settings.MASTER_KEY``; another secret stands in for it only where a
    setting or a test vector says so, e.g. ``PORTAL_AUDIT_CHAIN_KEY``)."""
    if purpose not in _PURPOSES:
        raise ValueError(f"No key purpose {purpose!r}; add it to portal/core/keys.py.")
    return _derive(purpose, settings.MASTER_KEY if master_key is None else master_key)


@lru_cache(maxsize=16)  # keyed by the secret too, so a changed setting gets its own key
def _derive(purpose: str, master_key: str) -> bytes:
    method, label = _PURPOSES[purpose]
    if method == _HMAC:
        return hmac.digest(master_key.encode(), label, "sha256")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(master_key.encode())
