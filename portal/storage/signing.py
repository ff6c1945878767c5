"""Signed tokens for the local backend's download and part-upload URLs.

The token is the whole authorization (like an S3 presigned URL), so it carries
what it grants and when that ends. Each purpose has its own salt: a download
token can never be replayed as an upload token.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core import signing
from django.utils.translation import gettext

from portal.core.errors import Forbidden

GET = "portal.storage.get"
PART = "portal.storage.part"
PUT = "portal.storage.put"


class LinkInvalid(Forbidden):
    code = "link_invalid"


class LinkExpired(Forbidden):
    code = "link_expired"


def issue(purpose: str, payload: dict[str, Any], lifetime: int) -> str:
    signer = signing.TimestampSigner(salt=purpose)
    return signer.sign_object({**payload, "exp": int(time.time()) + lifetime}, compress=True)


def verify(purpose: str, token: str) -> dict[str, Any]:
    """The payload of a valid, unexpired token; LinkInvalid / LinkExpired otherwise."""
    signer = signing.TimestampSigner(salt=purpose)
    try:
        # max_age caps every token at today's PRESIGN_SECONDS; "exp" holds the
        # shorter lifetime a caller may have asked for.
        payload = signer.unsign_object(token, max_age=settings.PRESIGN_SECONDS)
    except signing.SignatureExpired as exc:
        raise LinkExpired(gettext("This link has expired; ask the portal for a new one.")) from exc
    except signing.BadSignature as exc:
        raise LinkInvalid(gettext("This link is not valid; ask the portal for a new one.")) from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("exp"), int):
        raise LinkInvalid(gettext("This link is not valid; ask the portal for a new one."))
    if payload["exp"] < time.time():
        raise LinkExpired(gettext("This link has expired; ask the portal for a new one."))
    return payload
