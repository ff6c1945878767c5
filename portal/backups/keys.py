"""The deployment's backup key set, made on first use and kept wrapped
(AES-GCM) under a key derived from PORTAL_MASTER_KEY with HKDF-SHA256
(info ``b"coffer backup keys"``)."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import IntegrityError, transaction

from portal.backups.models import BackupKeys

_INFO = b"coffer backup keys"


@dataclass(frozen=True)
class KeySet:
    id_key: bytes
    data_key: bytes

    def as_b64(self) -> dict[str, str]:
        return {"id_key": base64.b64encode(self.id_key).decode(), "data_key": base64.b64encode(self.data_key).decode()}


def _wrapping_key() -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(settings.MASTER_KEY.encode())


def _wrap(key: bytes, label: bytes) -> str:
    nonce = os.urandom(12)
    return base64.b64encode(nonce + AESGCM(_wrapping_key()).encrypt(nonce, key, label)).decode()


def _unwrap(wrapped: str, label: bytes) -> bytes:
    raw = base64.b64decode(wrapped)
    return AESGCM(_wrapping_key()).decrypt(raw[:12], raw[12:], label)


def backup_keys() -> KeySet:
    """The key set, created on first use (a concurrent first use agrees on one row)."""
    row = BackupKeys.objects.filter(pk=1).first()
    if row is None:
        try:
            with transaction.atomic():
                row = BackupKeys.objects.create(pk=1, id_key_wrapped=_wrap(os.urandom(32), b"id"),
                                                data_key_wrapped=_wrap(os.urandom(32), b"data"))
        except IntegrityError:
            row = BackupKeys.objects.get(pk=1)
    return KeySet(id_key=_unwrap(row.id_key_wrapped, b"id"), data_key=_unwrap(row.data_key_wrapped, b"data"))
