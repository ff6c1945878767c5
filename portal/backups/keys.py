"""Backup key sets: one per user, made by the portal on first use and kept
wrapped (AES-GCM) under the master key's ``backup-keys`` key
(``portal.core.keys``: HKDF-SHA256, info ``b"coffer backup keys"``), so the
portal (an administrator restoring for an employee, GC, verify) can read every backup
while a device only ever receives its own user's keys. The deployment-wide
set of earlier releases stays, marked ``deployment_wide``, to read the
snapshots made with it (docs/backup-protocol.md)."""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.db import IntegrityError, transaction

from portal.backups.models import BackupKeySet
from portal.core.keys import BACKUP_KEYS, derive_key


@dataclass(frozen=True)
class KeySet:
    id_key: bytes
    data_key: bytes
    key_id: str = ""

    def as_b64(self) -> dict[str, str]:
        return {"id_key": base64.b64encode(self.id_key).decode(), "data_key": base64.b64encode(self.data_key).decode()}


def _wrapping_key(master_key: str | None = None) -> bytes:
    return derive_key(BACKUP_KEYS, master_key=master_key)


def wrap(key: bytes, label: bytes, *, master_key: str | None = None, nonce: bytes | None = None) -> str:
    """base64(nonce(12) || AES-GCM(wrapping key).encrypt(nonce, key, aad=label)); ``label`` is b"id" or
    b"data". ``master_key`` and ``nonce`` are for test vectors only."""
    nonce = os.urandom(12) if nonce is None else nonce
    return base64.b64encode(nonce + AESGCM(_wrapping_key(master_key)).encrypt(nonce, key, label)).decode()


def unwrap(wrapped: str, label: bytes, *, master_key: str | None = None) -> bytes:
    raw = base64.b64decode(wrapped)
    return AESGCM(_wrapping_key(master_key)).decrypt(raw[:12], raw[12:], label)


def keys_of(row: BackupKeySet) -> KeySet:
    """The raw keys of a stored key set."""
    return KeySet(id_key=unwrap(row.id_key_wrapped, b"id"), data_key=unwrap(row.data_key_wrapped, b"data"),
                  key_id=row.key_id)


def user_key_set(user) -> BackupKeySet:
    """``user``'s key set, made on first use (a concurrent first use agrees on one row)."""
    row = BackupKeySet.objects.filter(user=user).first()
    if row is None:
        try:
            with transaction.atomic():
                row = BackupKeySet.objects.create(user=user, key_id=secrets.token_hex(16),
                                                  id_key_wrapped=wrap(os.urandom(32), b"id"),
                                                  data_key_wrapped=wrap(os.urandom(32), b"data"))
        except IntegrityError:
            row = BackupKeySet.objects.get(user=user)
    return row
