"""Writes to accounts: users and personal access tokens."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import available_timezones

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from portal.accounts import tokens
from portal.accounts.models import PersonalAccessToken, User
from portal.audit.actions import Action
from portal.audit.models import Outcome
from portal.audit.services import record
from portal.core.access import require_admin
from portal.core.errors import Conflict, InvalidInput, NotFound
from portal.core.validation import clean_label, whole_number


@transaction.atomic
def user_create(*, actor, username: str, password: str, email: str = "", is_superuser: bool = False) -> User:
    """Admins (or the system, actor=None) create accounts. The personal space
    follows from the post-save receiver in spaces."""
    username = clean_label(username, field="username", max_length=150)
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict(gettext("A user named %(username)r already exists.") % {"username": username}, code="user_exists")
    user = User(username=username, email=email, is_staff=is_superuser, is_superuser=is_superuser)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise InvalidInput(gettext("The password is too weak: %(reasons)s") % {"reasons": " ".join(exc.messages)}, code="weak_password") from None
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:  # a concurrent create of the same name won
        raise Conflict(gettext("A user named %(username)r already exists.") % {"username": username}, code="user_exists") from None
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
        raise NotFound(gettext("No such token."))
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


def _sessions_end(user: User) -> int:
    """Delete the user's browser sessions (database-backed: each one is decoded)."""
    from django.contrib.sessions.models import Session

    ended = []
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator(chunk_size=500):
        if str(session.get_decoded().get("_auth_user_id")) == str(user.pk):
            ended.append(session.pk)
    Session.objects.filter(pk__in=ended).delete()
    return len(ended)


@transaction.atomic
def user_credentials_suspend(*, actor, user_id, by: str) -> dict[str, int]:
    """The system (actor=None: ransomware detection, portal.governance) or an
    administrator revokes every token and app password of a user and ends
    their browser sessions, the account staying enabled (they sign in again
    with their password and second factor). Each revocation is audited with
    ``by``; the caller records why. Twice is harmless."""
    from portal.core.access import require_admin

    if actor is not None:
        require_admin(actor, gettext("Only administrators suspend another account's sign-ins."))
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise NotFound(gettext("No such user."))
    now, tokens_revoked = timezone.now(), 0
    for token in PersonalAccessToken.objects.select_for_update().filter(user=user, revoked_at__isnull=True):
        token.revoked_at = now
        token.save(update_fields=["revoked_at"])
        record(action=Action.TOKEN_REVOKED, actor=actor, target=token, details={"by": by})
        tokens_revoked += 1
    return {"tokens": tokens_revoked, "sessions": _sessions_end(user)}


@transaction.atomic
def user_disable(*, actor, user_id) -> User:
    """Administrators disable an account, and so does the system (actor=None,
    a directory sync): it can no longer sign in, and its sessions, tokens and
    app passwords, share links and devices all stop working at once (each
    revocation audited). Twice is harmless."""
    from portal.backups.services.devices import device_revoke
    from portal.core.access import is_admin
    from portal.core.errors import Forbidden
    from portal.shares.models import InternalShare
    from portal.shares.services import internal_share_revoke, share_link_revoke

    if actor is not None and not is_admin(actor):
        raise Forbidden(gettext("Only administrators disable accounts."))
    user = User.objects.select_for_update().filter(pk=user_id).first()
    if user is None:
        raise NotFound(gettext("No such user."))
    if actor is not None and user.pk == actor.pk:
        raise InvalidInput(gettext("You cannot disable your own account."), code="self_disable")
    was_active = user.is_active
    if was_active:
        user.is_active = False
        user.save(update_fields=["is_active"])
    now = timezone.now()
    tokens_revoked = 0
    for token in PersonalAccessToken.objects.select_for_update().filter(user=user, revoked_at__isnull=True):
        token.revoked_at = now
        token.save(update_fields=["revoked_at"])
        record(action=Action.TOKEN_REVOKED, actor=actor, target=token, details={"by": "user.disabled"})
        tokens_revoked += 1
    links = list(user.share_links.filter(revoked_at__isnull=True).values_list("pk", flat=True))
    for link_id in links:
        share_link_revoke(actor=actor, link_id=link_id)
    for share_id in InternalShare.objects.filter(created_by=user, revoked_at__isnull=True).values_list("pk", flat=True):
        internal_share_revoke(actor=actor, share_id=share_id)  # re-enabling must not bring them back
    devices = list(user.devices.filter(revoked_at__isnull=True))
    for device in devices:
        device_revoke(actor=actor, device=device)
    sessions = _sessions_end(user)
    if was_active or tokens_revoked or links or devices or sessions:
        record(action=Action.USER_DISABLED, actor=actor, target=user,
               details={"sessions": sessions, "tokens": tokens_revoked, "links": len(links),
                        "devices": len(devices), "was_active": was_active})
    return user


@transaction.atomic
def time_zone_set(*, actor: User, time_zone: str) -> User:
    """A user sets the zone their pages show times in (an IANA name such as
    Asia/Shanghai); blank goes back to the deployment's zone."""
    time_zone = (time_zone or "").strip()
    if time_zone and time_zone not in available_timezones():
        raise InvalidInput(gettext("%(zone)s is not a time zone; choose one from the list.") % {"zone": time_zone},
                           code="invalid_time_zone", detail={"field": "time_zone"})
    previous = actor.time_zone
    actor.time_zone = time_zone
    actor.save(update_fields=["time_zone"])
    record(action=Action.TIME_ZONE_CHANGED, actor=actor, target=actor,
           details={"from": previous or settings.TIME_ZONE, "to": time_zone or settings.TIME_ZONE})
    return actor


# --- Profile ---------------------------------------------------------------------

def _clean_display_name(value) -> str:
    value = " ".join(str(value or "").split())
    return clean_label(value, field="display_name", max_length=150) if value else ""


def _clean_email(value) -> str:
    email = str(value or "").strip()
    if not email:
        return ""
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidInput(gettext("%(email)s is not an e-mail address.") % {"email": email}, code="invalid_email",
                           detail={"field": "email"}) from None
    return email


def _clean_language(value) -> str:
    language = str(value or "").strip().lower()
    if language and language not in dict(settings.LANGUAGES):
        raise InvalidInput(gettext("Choose a language from the list."), code="invalid_language",
                           detail={"field": "language"})
    return language


@transaction.atomic
def profile_update(*, actor: User, display_name: str, email: str, language: str) -> User:
    """A user changes their own name as shown, e-mail address and language
    (blank: the browser's). Saving it unchanged records nothing."""
    wanted = {"display_name": _clean_display_name(display_name), "email": _clean_email(email),
              "language": _clean_language(language)}
    changed = {field: {"from": getattr(actor, field), "to": value}
               for field, value in wanted.items() if getattr(actor, field) != value}
    if changed:
        for field, value in wanted.items():
            setattr(actor, field, value)
        actor.save(update_fields=sorted(changed))
        record(action=Action.PROFILE_CHANGED, actor=actor, target=actor, details=changed)
    return actor


# --- What administrators do to accounts (the console calls these) ------------------

@transaction.atomic
def user_enable(*, actor, user_id) -> User:
    """Administrators enable a disabled account again: it can sign in. What
    disabling revoked (tokens, links, devices) stays revoked. Twice is harmless."""
    require_admin(actor, gettext("Only administrators enable accounts."))
    user = User.objects.select_for_update().filter(pk=user_id).first()
    if user is None:
        raise NotFound(gettext("No such user."))
    if not user.is_active:
        user.is_active = True
        user.save(update_fields=["is_active"])
        record(action=Action.USER_ENABLED, actor=actor, target=user)
    return user


@transaction.atomic
def user_staff_set(*, actor, user: User, staff: bool) -> User:
    """Administrators make someone an administrator (staff and superuser
    together) or take it away; never from themselves, never from the last
    active administrator."""
    require_admin(actor, gettext("Only administrators choose administrators."))
    # Every administrator row locked: two administrators demoting each other at once cannot leave none.
    admins = set(User.objects.select_for_update().filter(is_superuser=True, is_active=True)
                 .values_list("pk", flat=True))
    user = User.objects.select_for_update().get(pk=user.pk)
    staff = bool(staff)
    if not staff and user.pk == actor.pk:
        raise InvalidInput(gettext("You cannot take administration from yourself; ask another administrator."),
                           code="self_demote")
    if not staff and admins <= {user.pk}:
        raise InvalidInput(gettext("%(username)s is the last administrator; make someone else one first.")
                           % {"username": user.get_username()}, code="last_admin")
    if user.is_staff == staff and user.is_superuser == staff:
        return user
    user.is_staff = user.is_superuser = staff
    user.save(update_fields=["is_staff", "is_superuser"])
    record(action=Action.USER_STAFF_CHANGED, actor=actor, target=user, details={"staff": staff})
    return user


@transaction.atomic
def user_two_factor_reset(*, actor, user: User) -> int:
    """Administrators remove a user's authenticators (a lost phone): they sign
    in with their password alone, or enroll again where the policy requires it.
    Returns how many were removed; none records nothing."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    require_admin(actor, gettext("Only administrators reset two-factor sign-in."))
    removed, _ = TOTPDevice.objects.filter(user=user).delete()
    if removed:
        record(action=Action.USER_TWO_FACTOR_RESET, actor=actor, target=user, details={"devices": removed})
    return removed


@transaction.atomic
def user_password_reset_send(*, actor, user: User) -> None:
    """Administrators (or the system, actor=None: ``manage.py user_create``)
    mail a user a one-time link to set a new password (their old one keeps
    working until they do). In the user's language, else the administrator's;
    a mail server's refusal undoes the event."""
    from portal.accounts import mail

    if actor is not None:
        require_admin(actor, gettext("Only administrators send password links."))
    user = User.objects.filter(pk=user.pk).first()
    if user is None:
        raise NotFound(gettext("No such user."))
    if not user.is_active:
        raise InvalidInput(gettext("%(username)s is disabled; enable the account first.")
                           % {"username": user.get_username()}, code="user_disabled")
    if not user.email:
        raise InvalidInput(gettext("%(username)s has no e-mail address.") % {"username": user.get_username()},
                           code="no_email")
    record(action=Action.USER_PASSWORD_RESET_SENT, actor=actor, target=user, details={"email": user.email})
    # Someone who never signed in reads "an account was made for you", not "choose a new password".
    mail.set_password_send(user=user, reason="new" if user.last_login is None else "admin")
