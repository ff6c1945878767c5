"""Bearer tokens, one scheme for every credential Coffer hands out: personal
access tokens (``accounts``), device and enrollment tokens (``backups``) and
share-link tokens (``shares``).

A token is ``<prefix><selector><separator><secret>``. The selector (64 bits,
hex, public) finds the row with an indexed lookup; the secret (at least 128
bits from ``secrets``) is kept only as its SHA-256, which is enough for a
random secret of that size and keeps verification fast on every request, and
is compared in constant time, so neither a database reader nor a stopwatch
learns a working token. Each app declares its ``TokenFormat``; the formats of
tokens already issued must never change, or they stop working.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
from dataclasses import dataclass, field

SELECTOR_BYTES = 8
MIN_SECRET_BYTES = 16  # 128 bits


@dataclass(frozen=True)
class TokenFormat:
    prefix: str = ""  # including its own separator, e.g. "coffer_"
    separator: str = ""  # between selector and secret
    secret_bytes: int = 32
    strip: bool = False  # tolerate surrounding whitespace (a pasted token, a header value)
    pattern: re.Pattern = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if self.secret_bytes < MIN_SECRET_BYTES:
            raise ValueError(f"A token secret needs at least {MIN_SECRET_BYTES} random bytes.")
        secret_chars = math.ceil(self.secret_bytes * 4 / 3)  # unpadded base64url, as token_urlsafe makes it
        object.__setattr__(self, "pattern", re.compile(
            rf"^{re.escape(self.prefix)}([0-9a-f]{{{2 * SELECTOR_BYTES}}}){re.escape(self.separator)}"
            rf"([A-Za-z0-9_-]{{{secret_chars}}})$"))

    def generate(self) -> tuple[str, str, str]:
        """(plaintext token, selector, verifier): only the last two are stored."""
        selector = secrets.token_hex(SELECTOR_BYTES)
        secret = secrets.token_urlsafe(self.secret_bytes)
        return f"{self.prefix}{selector}{self.separator}{secret}", selector, hash_secret(secret)

    def parse(self, raw) -> tuple[str, str] | None:
        """(selector, secret), or None when ``raw`` is not a token of this format."""
        if not isinstance(raw, str):
            return None
        match = self.pattern.match(raw.strip() if self.strip else raw)
        return (match.group(1), match.group(2)) if match else None


def hash_secret(secret: str) -> str:
    """The stored verifier of ``secret`` (SHA-256, hex)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def verify(secret: str, verifier: str) -> bool:
    """Whether ``secret`` matches the stored ``verifier``, in constant time."""
    return hmac.compare_digest(hash_secret(secret), verifier)
