"""The backup format's cryptography, exactly as docs/backup-protocol.md says
(the agent's ``sync_agent/crypto.py`` writes the same bytes; both check the
test vector in that document).

- chunk id: keyed BLAKE3 of the plaintext (64 hex)
- blob: ``nonce(12) || AES-256-GCM(data_key).encrypt(nonce, flag || payload, aad=bytes.fromhex(id))``,
  flag 0 = plaintext, flag 1 = zstandard level 3, used only when at least 10 % smaller
- tree: compact, key-sorted UTF-8 JSON of ``{"entries": [...]}`` sorted by name
"""

from __future__ import annotations

import json
import os
import re

import blake3
import zstandard
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_SIZE = 12
TAG_SIZE = 16
# nonce + flag + tag: the smallest possible blob (an empty chunk).
BLOB_OVERHEAD = NONCE_SIZE + 1 + TAG_SIZE
FLAG_PLAIN = 0
FLAG_ZSTD = 1
ZSTD_LEVEL = 3
# No chunk or tree the portal reads may decompress to more than this.
MAX_PLAINTEXT = 64 * 1024 * 1024
CHUNK_ID = re.compile(r"^[0-9a-f]{64}$")


class BlobInvalid(ValueError):
    """A blob that does not decrypt, or decrypts to something that is not its id's chunk."""


def chunk_id(id_key: bytes, plaintext: bytes) -> str:
    return blake3.blake3(plaintext, key=id_key).hexdigest()


def is_chunk_id(value) -> bool:
    return isinstance(value, str) and bool(CHUNK_ID.match(value))


def seal_blob(data_key: bytes, cid: str, plaintext: bytes, *, nonce: bytes | None = None) -> bytes:
    """The stored form of a chunk. ``nonce`` is for test vectors only: a real
    blob always gets 12 fresh random bytes."""
    nonce = os.urandom(NONCE_SIZE) if nonce is None else nonce
    if len(nonce) != NONCE_SIZE:
        raise ValueError("A nonce is 12 bytes.")
    compressed = zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(plaintext)
    if len(compressed) * 10 <= len(plaintext) * 9:
        body = bytes([FLAG_ZSTD]) + compressed
    else:
        body = bytes([FLAG_PLAIN]) + plaintext
    return nonce + AESGCM(data_key).encrypt(nonce, body, bytes.fromhex(cid))


def open_blob(data_key: bytes, cid: str, blob: bytes, *, id_key: bytes | None = None) -> bytes:
    """The plaintext of a blob; with ``id_key`` also checks that it hashes to ``cid``."""
    if len(blob) < BLOB_OVERHEAD:
        raise BlobInvalid(f"Blob {cid} is {len(blob)} bytes, shorter than any blob.")
    try:
        body = AESGCM(data_key).decrypt(blob[:NONCE_SIZE], blob[NONCE_SIZE:], bytes.fromhex(cid))
    except InvalidTag:
        raise BlobInvalid(f"Blob {cid} does not decrypt (corrupt, or stored under another id).") from None
    flag, payload = body[0], body[1:]
    if flag == FLAG_PLAIN:
        plaintext = payload
    elif flag == FLAG_ZSTD:
        try:
            plaintext = zstandard.ZstdDecompressor().decompress(payload, max_output_size=MAX_PLAINTEXT)
        except zstandard.ZstdError as exc:
            raise BlobInvalid(f"Blob {cid} does not decompress: {exc}.") from None
    else:
        raise BlobInvalid(f"Blob {cid} has unknown flag {flag}.")
    if id_key is not None and chunk_id(id_key, plaintext) != cid:
        raise BlobInvalid(f"Blob {cid} decrypts to data with another id.")
    return plaintext


def tree_encode(entries: list[dict]) -> bytes:
    """A tree object's plaintext: entries sorted by name, compact sorted-key UTF-8 JSON."""
    tree = {"entries": sorted(entries, key=lambda entry: entry["name"])}
    return json.dumps(tree, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode("utf-8")


def tree_decode(plaintext: bytes) -> list[dict]:
    """A tree object's entries; BlobInvalid when it is not one."""
    try:
        tree = json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BlobInvalid("A tree object is not UTF-8 JSON.") from None
    entries = tree.get("entries") if isinstance(tree, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) and isinstance(e.get("name"), str)
                                                for e in entries):
        raise BlobInvalid("A tree object has no valid entries list.")
    return entries
