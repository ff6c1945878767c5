"""WOPI access tokens: issued to a signed-in user for one file, presented by the office server.

A token is 32 random bytes (``secrets``), shown once (to the office page) and
kept only as its SHA-256. It names a user and a file; what that user may do
is read again from their current role on every request, so a member removed
from a space, or made a viewer, loses the file (or the right to save it) at
once, whatever the token's own lifetime.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portal.audit.actions import Action
from portal.audit.services import record
from portal.collab.wopi.models import WopiToken
from portal.core.access import Cap
from portal.files.selectors import Located


def digest_of(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Issued:
    token: str
    expires_at: object  # datetime

    @property
    def ttl_ms(self) -> int:
        """WOPI's access_token_ttl: the expiry as milliseconds since the epoch."""
        return int(self.expires_at.timestamp() * 1000)


@transaction.atomic
def wopi_token_issue(*, actor, located: Located) -> Issued:
    """A signed-in user who may read the file (``located``, found for them) gets a token for the office
    editor; it lets them save only while their role lets them write."""
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    can_write = located.can(Cap.FILE_WRITE)
    WopiToken.objects.filter(user=actor, expires_at__lte=now).delete()  # the user's spent ones, tidied here
    row = WopiToken.objects.create(digest=digest_of(token), user=actor, node=located.node, can_write=can_write,
                                   created_at=now, expires_at=now + timedelta(seconds=settings.WOPI_TOKEN_TTL_SECONDS))
    record(action=Action.WOPI_TOKEN_ISSUED, actor=actor, target=located.node, target_label=located.path,
           space=located.space, details={"write": can_write, "expires_at": row.expires_at.isoformat()})
    return Issued(token=token, expires_at=row.expires_at)


def token_find(token, node_id) -> WopiToken | None:
    """The live token with this value for this file, or None (unknown, expired, or another file's)."""
    if not isinstance(token, str) or not token or len(token) > 200:
        return None
    row = WopiToken.objects.select_related("user").filter(digest=digest_of(token)).first()
    if row is None or not row.is_live() or str(row.node_id) != str(node_id):
        return None
    if not row.user.is_active:
        return None
    return row


def wopi_tokens_expire(*, now=None) -> int:
    """The system deletes every token past its expiry (they stopped working then; issuing tidies
    the user's own). Safe to run twice."""
    deleted, _ = WopiToken.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted
