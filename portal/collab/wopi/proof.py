"""Proof keys: whether a WOPI request really comes from the configured office server.

The office server signs, with the private key whose public half discovery
publishes, the access token, the full request URL (upper-cased) and a
timestamp (X-WOPI-TimeStamp, .NET ticks): RSA PKCS#1 v1.5 over SHA-256.
X-WOPI-Proof is made with its current key, X-WOPI-ProofOld with the previous
one. A request is genuine when one of these holds (the three combinations of
Microsoft's "Verifying that requests originate from Office" page, which cover
key rotation on either side): Proof with the current key; ProofOld with the
current key; Proof with the old key. Timestamps older than 20 minutes are
refused whatever the signatures say.
"""

from __future__ import annotations

import base64
import binascii
import struct
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from portal.collab.wopi.discovery import Discovery, ProofKey

EPOCH_TICKS = 621_355_968_000_000_000   # 0001-01-01 to 1970-01-01 in 100 ns ticks
TICKS_PER_SECOND = 10_000_000
MAX_AGE_SECONDS = 20 * 60
SKEW_SECONDS = 5 * 60


def ticks_now() -> int:
    return EPOCH_TICKS + int(time.time() * TICKS_PER_SECOND)


def proof_message(access_token: str, url: str, ticks: int) -> bytes:
    """The signed bytes: each part prefixed by its length (4 bytes, big-endian)."""
    token, address = access_token.encode("utf-8"), url.upper().encode("utf-8")
    return b"".join((struct.pack(">i", len(token)), token, struct.pack(">i", len(address)), address,
                     struct.pack(">i", 8), struct.pack(">q", ticks)))


def _verifies(key: ProofKey | None, signature_b64: str | None, message: bytes) -> bool:
    if key is None or not signature_b64:
        return False
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        public = rsa.RSAPublicNumbers(key.exponent, key.modulus).public_key()
        public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def timestamp_fresh(raw: str | None, *, now_ticks: int | None = None) -> bool:
    try:
        ticks = int(raw or "")
    except ValueError:
        return False
    now = ticks_now() if now_ticks is None else now_ticks
    # a few minutes ahead is clock skew between the two servers, not a replay
    return -SKEW_SECONDS * TICKS_PER_SECOND <= now - ticks <= MAX_AGE_SECONDS * TICKS_PER_SECOND


def proof_valid(found: Discovery, *, access_token: str, url: str, timestamp: str | None,
                proof: str | None, proof_old: str | None) -> bool:
    """Whether the request's signatures hold under the discovery's keys (see the module's text)."""
    if not timestamp_fresh(timestamp):
        return False
    message = proof_message(access_token, url, int(timestamp))
    return (_verifies(found.proof_key, proof, message)
            or _verifies(found.proof_key, proof_old, message)
            or _verifies(found.proof_key_old, proof, message))
