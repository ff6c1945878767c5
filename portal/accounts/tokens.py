"""Personal access tokens: ``coffer_<selector>_<secret>``, a 256-bit secret
(the scheme, hashing and comparison are ``portal.core.tokens``)."""

from __future__ import annotations

from portal.core.tokens import TokenFormat, hash_secret, verify

PREFIX = "coffer"
FORMAT = TokenFormat(prefix=f"{PREFIX}_", separator="_", secret_bytes=32, strip=True)
generate = FORMAT.generate
parse = FORMAT.parse

__all__ = ["FORMAT", "PREFIX", "generate", "hash_secret", "parse", "verify"]
