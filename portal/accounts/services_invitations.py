"""Invitations: an administrator invites an e-mail address; the invitee opens
the one-time link, chooses a username and password, and has an account.

The link's token is the scheme of portal.core.tokens (a public selector and a
256-bit secret kept only as its hash). A used, revoked, expired and unknown
token all get the same answer."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from portal.accounts import mail
from portal.accounts.models import Invitation, User
from portal.accounts.services import _clean_display_name, _clean_email, user_create
from portal.core.access import require_admin
from portal.audit.actions import Action
from portal.audit.services import record
from portal.core.errors import Conflict, InvalidInput, NotFound
from portal.core.tokens import TokenFormat, verify

FORMAT = TokenFormat(secret_bytes=32)


def invitation_gone() -> NotFound:
    return NotFound(gettext("This invitation link does not work: it was already used, withdrawn, or it has "
                            "expired. Ask your administrator to invite you again."), code="invitation_invalid")


@transaction.atomic
def invitation_create(*, actor, email: str, staff: bool = False) -> tuple[Invitation, str]:
    """Administrators invite someone by e-mail (``staff``: as an administrator).
    The invitee is mailed the link in the inviter's language; returns the row
    and the token (never stored; the link is mail.invitation_url(token)).
    A mail server's refusal undoes the invitation."""
    require_admin(actor, gettext("Only administrators invite people."))
    email = _clean_email(email)
    if not email:
        raise InvalidInput(gettext("Enter the e-mail address to invite."), code="invalid_email",
                           detail={"field": "email"})
    if User.objects.filter(email__iexact=email, is_active=True).exists():
        raise Conflict(gettext("%(email)s already has an account.") % {"email": email}, code="user_exists",
                       detail={"field": "email"})
    token, selector, verifier = FORMAT.generate()
    invitation = Invitation.objects.create(
        email=email, created_by=actor, selector=selector, verifier_hash=verifier, staff=bool(staff),
        expires_at=timezone.now() + timedelta(days=settings.INVITATION_DAYS))
    record(action=Action.INVITATION_CREATED, actor=actor, target=invitation,
           details={"email": email, "staff": invitation.staff, "expires_at": invitation.expires_at.isoformat()})
    mail.invitation_send(invitation=invitation, token=token, inviter=actor)
    return invitation, token


@transaction.atomic
def invitation_revoke(*, actor, invitation_id) -> Invitation:
    """Administrators withdraw an invitation that was not accepted yet; twice is harmless."""
    require_admin(actor, gettext("Only administrators withdraw invitations."))
    invitation = Invitation.objects.select_for_update().filter(pk=invitation_id).first()
    if invitation is None:
        raise NotFound(gettext("No such invitation."))
    if invitation.accepted_at is not None:
        raise Conflict(gettext("This invitation was already accepted; disable the account instead."),
                       code="invitation_accepted")
    if invitation.revoked_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        record(action=Action.INVITATION_REVOKED, actor=actor, target=invitation, details={"email": invitation.email})
    return invitation


def _open_for_update(token: str) -> Invitation:
    parsed = FORMAT.parse(token)
    invitation = (Invitation.objects.select_for_update().filter(selector=parsed[0]).first()
                  if parsed else None)
    if invitation is None or not verify(parsed[1], invitation.verifier_hash) or not invitation.is_open:
        raise invitation_gone()
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, username: str, password: str, display_name: str = "") -> User:
    """The invitee (anyone holding the link) makes their account, once: the
    invited e-mail address, an administrator if the invitation says so."""
    invitation = _open_for_update(token)
    username = str(username or "").strip()
    try:
        User.username_validator(username)
    except ValidationError:
        raise InvalidInput(gettext("A username may have letters, digits and @ . + - _ only."),
                           code="invalid_username", detail={"field": "username"}) from None
    display_name = _clean_display_name(display_name)
    user = user_create(actor=None, username=username, password=password, email=invitation.email,
                       is_superuser=invitation.staff)
    if display_name:
        user.display_name = display_name
        user.save(update_fields=["display_name"])
    invitation.accepted_at = timezone.now()
    invitation.accepted_user = user
    invitation.save(update_fields=["accepted_at", "accepted_user"])
    record(action=Action.INVITATION_ACCEPTED, actor=user, target=invitation,
           details={"username": user.get_username(), "staff": invitation.staff,
                    "invited_by": invitation.created_by.get_username() if invitation.created_by else ""})
    return user
