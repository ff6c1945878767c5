"""Chunk ids (keyed BLAKE3), compression (zstandard) and encryption
(AES-256-GCM) — exactly the blob format of docs/backup-protocol.md.

Every function here is safe to call from many threads at once; the heavy
parts (hashing, compressing, encrypting) release the GIL."""

from __future__ import annotations

import base64
import os
import threading
from dataclasses import dataclass

import blake3
import zstandard
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import IntegrityError

NONCE_SIZE = 12
ZSTD_LEVEL = 3
FLAG_PLAIN = 0
FLAG_ZSTD = 1
_local = threading.local()


@dataclass(frozen=True)
class Keys:
    id_key: bytes
    data_key: bytes

    @classmethod
    def from_b64(cls, id_key: str, data_key: str) -> "Keys":
        keys = cls(base64.b64decode(id_key), base64.b64decode(data_key))
        if len(keys.id_key) != 32 or len(keys.data_key) != 32:
            raise IntegrityError("the portal sent keys that are not 32 bytes")
        return keys


def chunk_id(keys: Keys, data) -> str:
    """64 hex: BLAKE3 keyed with the deployment's id key."""
    return blake3.blake3(data, key=keys.id_key, max_threads=1).hexdigest()


def _aead(keys: Keys) -> AESGCM:
    cached = getattr(_local, "aead", None)
    if cached is None or cached[0] is not keys:
        cached = (keys, AESGCM(keys.data_key))
        _local.aead = cached
    return cached[1]


def _compressor() -> zstandard.ZstdCompressor:
    if not hasattr(_local, "zc"):
        _local.zc = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    return _local.zc


def _decompressor() -> zstandard.ZstdDecompressor:
    if not hasattr(_local, "zd"):
        _local.zd = zstandard.ZstdDecompressor()
    return _local.zd


def seal(keys: Keys, cid: str, plaintext, *, compress: bool = True, nonce: bytes | None = None) -> bytes:
    """``nonce || AESGCM(body, aad=id)`` where body is flag + (zstd or plain) payload."""
    body = None
    if compress and plaintext:
        packed = _compressor().compress(plaintext)
        if len(packed) * 10 <= len(plaintext) * 9:  # at least 10 % smaller
            body = bytes([FLAG_ZSTD]) + packed
    if body is None:
        body = bytes([FLAG_PLAIN]) + bytes(plaintext)
    nonce = nonce or os.urandom(NONCE_SIZE)
    return nonce + _aead(keys).encrypt(nonce, body, bytes.fromhex(cid))


def unseal(keys: Keys, cid: str, blob: bytes, *, check_id: bool = True) -> bytes:
    """The plaintext of a stored blob; IntegrityError if it was tampered with or is not ``cid``."""
    try:
        body = _aead(keys).decrypt(blob[:NONCE_SIZE], blob[NONCE_SIZE:], bytes.fromhex(cid))
    except (InvalidTag, ValueError) as exc:
        raise IntegrityError(f"chunk {cid[:12]} does not decrypt") from exc
    flag, payload = body[0], body[1:]
    if flag == FLAG_ZSTD:
        plaintext = _decompressor().decompress(payload)
    elif flag == FLAG_PLAIN:
        plaintext = payload
    else:
        raise IntegrityError(f"chunk {cid[:12]} has an unknown flag {flag}")
    if check_id and chunk_id(keys, plaintext) != cid:
        raise IntegrityError(f"chunk {cid[:12]} does not match its id")
    return plaintext
