"""Writes to accounts: users and personal access tokens."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from portal.accounts import tokens
from portal.accounts.models import PersonalAccessToken, User
from portal.audit.actions import Action
from portal.audit.models import Outcome
from portal.audit.services import record
from portal.core.errors import Conflict, InvalidInput, NotFound
from portal.core.validation import clean_label, whole_number


@transaction.atomic
def user_create(*, actor, username: str, password: str, email: str = "", is_superuser: bool = False) -> User:
    """Admins (or the system, actor=None) create accounts. The personal space
    follows from the post-save receiver in spaces."""
    username = clean_label(username, field="username", max_length=150)
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict(f"A user named {username!r} already exists.", code="user_exists")
    user = User(username=username, email=email, is_staff=is_superuser, is_superuser=is_superuser)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise InvalidInput("The password is too weak: " + " ".join(exc.messages), code="weak_password") from None
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:  # a concurrent create of the same name won
        raise Conflict(f"A user named {username!r} already exists.", code="user_exists") from None
    record(action=Action.USER_CREATED, actor=actor, target=user, details={"superuser": is_superuser})
    return user


@transaction.atomic
def token_issue(*, actor, owner: User, name: str, days: int | None = None) -> tuple[PersonalAccessToken, str]:
    """A user issues a token for themselves; the system (actor=None, management
    command) may issue one for anyone. Returns the row and the plaintext, which
    is never stored and cannot be shown again."""
    name = clean_label(name, field="name", max_length=100)
    days = whole_number(settings.TOKEN_DEFAULT_DAYS if days is None else days,
                        field="days", minimum=1, maximum=settings.TOKEN_MAX_DAYS)
    plaintext, selector, verifier = tokens.generate()
    token = PersonalAccessToken.objects.create(
        user=owner, name=name, selector=selector, verifier_hash=verifier,
        expires_at=timezone.now() + timedelta(days=days),
    )
    record(action=Action.TOKEN_ISSUED, actor=actor, target=token,
           details={"owner": owner.get_username(), "expires_at": token.expires_at.isoformat()})
    return token, plaintext


@transaction.atomic
def token_revoke(*, actor, token_id: int) -> PersonalAccessToken:
    """Owners revoke their own tokens; revoking twice is harmless and audited once."""
    token = PersonalAccessToken.objects.select_for_update().filter(pk=token_id, user=actor).first()
    if token is None:
        raise NotFound("No such token.")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        record(action=Action.TOKEN_REVOKED, actor=actor, target=token)
    return token


def token_rejected_record(*, token: PersonalAccessToken, reason: str) -> None:
    """The system records that an existing token was refused (revoked, expired,
    wrong secret, disabled user), so stale or leaked tokens in use show up."""
    record(action=Action.TOKEN_REJECTED, actor=None, actor_label=token.user.get_username(), target=token,
           outcome=Outcome.DENIED, details={"reason": reason})
