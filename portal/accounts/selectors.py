from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from portal.accounts import tokens
from portal.accounts.models import PersonalAccessToken, User

# last_used_at is written at most this often per token, not on every request.
_TOUCH_EVERY = timedelta(seconds=60)


class TokenRejected(Exception):
    """``token`` is the row the presented string named, when it named one."""

    def __init__(self, reason: str, token: PersonalAccessToken | None = None):
        super().__init__(reason)
        self.reason = reason
        self.token = token


def token_authenticate(raw: str) -> PersonalAccessToken:
    """The active token for a presented string, or TokenRejected saying why."""
    parsed = tokens.parse(raw)
    if parsed is None:
        raise TokenRejected("The token is malformed.")
    selector, secret = parsed
    token = PersonalAccessToken.objects.select_related("user").filter(selector=selector).first()
    if token is None:
        raise TokenRejected("The token is not valid.")
    if not tokens.verify(secret, token.verifier_hash):
        raise TokenRejected("The token is not valid.", token)
    if token.revoked_at is not None:
        raise TokenRejected("The token was revoked.", token)
    if token.is_expired:
        raise TokenRejected("The token has expired; create a new one.", token)
    if not token.user.is_active:
        raise TokenRejected("The token's user is disabled.", token)
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > _TOUCH_EVERY:
        PersonalAccessToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def token_list(*, actor: User):
    return PersonalAccessToken.objects.filter(user=actor)


def invitation_open(token: str):
    """The invitation a link's token names if it still works (not used,
    withdrawn or expired), else None."""
    from portal.accounts.models import Invitation
    from portal.accounts.services_invitations import FORMAT
    from portal.core.tokens import verify

    parsed = FORMAT.parse(token)
    invitation = Invitation.objects.filter(selector=parsed[0]).first() if parsed else None
    if invitation is None or not verify(parsed[1], invitation.verifier_hash) or not invitation.is_open:
        return None
    return invitation
