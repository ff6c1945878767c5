"""Device and enrollment credentials: ``<prefix>_<selector>_<secret>``, a
256-bit secret (the scheme, hashing and comparison are ``portal.core.tokens``).
Device tokens are ``cofferdev_...``, enrollment tokens ``cofferenr_...``."""

from __future__ import annotations

from portal.core.tokens import TokenFormat, hash_secret, verify

DEVICE = "cofferdev"
ENROLLMENT = "cofferenr"
_FORMATS = {prefix: TokenFormat(prefix=f"{prefix}_", separator="_", secret_bytes=32, strip=True)
            for prefix in (DEVICE, ENROLLMENT)}


def generate(prefix: str) -> tuple[str, str, str]:
    """(plaintext token, selector, verifier hash)."""
    return _FORMATS[prefix].generate()


def parse(prefix: str, raw) -> tuple[str, str] | None:
    """(selector, secret), or None when ``raw`` is not a token of that kind."""
    return _FORMATS[prefix].parse(raw)


__all__ = ["DEVICE", "ENROLLMENT", "generate", "hash_secret", "parse", "verify"]
