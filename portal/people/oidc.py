"""Single sign-on with OpenID Connect (mozilla-django-oidc; docs/sso.md).

The provider vouches for an identity (its ``sub``); this module finds the
Coffer account that identity belongs to, or makes one, and mirrors the
provider's groups claim into Coffer groups of source ``oidc``:

1. an account already linked to the ``sub`` (``ExternalIdentity``), whatever
   its name is now — a rename at the provider keeps the account;
2. else the account whose username (or e-mail, if that is the configured
   claim) is the configured claim's value, which is then linked. An
   administrator's account is never linked by name (the break-glass local
   admin cannot be taken over by whoever gets that name at the provider),
   nor one already linked to another ``sub``;
3. else a new account with an unusable password (its personal space follows
   from the spaces receiver), when PORTAL_OIDC_CREATE_USERS allows.

A disabled Coffer account is refused, and each refusal is an
``auth.login_failed`` event with the reason.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.db import IntegrityError, transaction
from django.urls import reverse
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from portal.accounts.models import User
from portal.audit.actions import Action
from portal.audit.models import Outcome
from portal.audit.services import record
from portal.core.errors import Conflict, InvalidInput
from portal.core.validation import clean_label
from portal.people.models import ExternalIdentity, GroupSource
from portal.people.services import group_ensure, user_groups_set

logger = logging.getLogger(__name__)
SOURCE = GroupSource.OIDC
BACKEND = "portal.people.oidc.OIDCBackend"


class SsoRefused(Exception):
    """The provider's identity may not sign in here; ``reason`` goes to the audit event."""

    def __init__(self, reason: str, label: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.label = label


class OIDCBackend(OIDCAuthenticationBackend):
    """Answers only the provider's callback; every other sign-in passes it by."""

    def authenticate(self, request, **kwargs):
        if not settings.OIDC_ENABLED or request is None:
            return None
        if request.path != reverse("oidc_authentication_callback"):
            return None
        return super().authenticate(request, **kwargs)

    def get_or_create_user(self, access_token, id_token, payload):
        id_token_check(payload)
        userinfo = self.get_userinfo(access_token, id_token, payload)
        if str(userinfo.get("sub", payload["sub"])) != str(payload["sub"]):
            raise SuspiciousOperation("The userinfo answer is about another subject than the ID token.")
        claims = {**payload, **userinfo}
        try:
            return sso_user_sign_in(claims=claims)
        except SsoRefused as exc:
            record(action=Action.LOGIN_FAILED, actor=None, actor_label=exc.label[:150],
                   target_label=exc.label[:150], outcome=Outcome.DENIED,
                   details={"via": "oidc", "reason": exc.reason, "subject": str(claims.get("sub", ""))[:512]})
            return None

    def get_user(self, user_id):
        """As Django's ModelBackend: a disabled account's session is no session."""
        user = super().get_user(user_id)
        return user if user is not None and user.is_active else None


def id_token_check(payload: dict) -> None:
    """What mozilla-django-oidc leaves unchecked: the token is for this client
    (``aud``, and ``azp`` when there are several audiences), from the configured issuer."""
    audience = payload.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if settings.OIDC_RP_CLIENT_ID not in audiences:
        raise SuspiciousOperation("The ID token was issued to another client (aud).")
    if len(audiences) > 1 and payload.get("azp") != settings.OIDC_RP_CLIENT_ID:
        raise SuspiciousOperation("The ID token's authorized party (azp) is another client.")
    if settings.OIDC_OP_ISSUER and payload.get("iss") != settings.OIDC_OP_ISSUER:
        raise SuspiciousOperation("The ID token comes from another issuer (iss).")
    if not payload.get("sub"):
        raise SuspiciousOperation("The ID token names no subject (sub).")


@transaction.atomic
def sso_user_sign_in(*, claims: dict) -> User:
    """The system (actor=None) at sign-in through the provider: the account
    of the identity in ``claims`` (verified ID token and userinfo), found,
    linked or created; its name, e-mail and groups brought up to date.
    Raises SsoRefused (nothing written) when it may not sign in."""
    subject = str(claims["sub"])[:512]
    identity = (ExternalIdentity.objects.select_for_update().select_related("user")
                .filter(source=SOURCE, subject=subject).first())
    if identity is not None:
        user = identity.user
        _refuse_disabled(user)
        _update_from_claims(user, claims)
    else:
        user = _match_by_claim(claims)
        created = user is None
        if created:
            user = _create(claims, subject)
        else:
            _refuse_disabled(user)
            _update_from_claims(user, claims)
        _link(user, subject, created=created)
    _groups_from_claims(user, claims)
    return user


def _refuse_disabled(user: User) -> None:
    if not user.is_active:
        raise SsoRefused("disabled", user.get_username())


def _claim_value(claims: dict) -> str:
    claim = settings.OIDC_USERNAME_CLAIM
    value = claims.get(claim)
    if claim == "email" and claims.get("email_verified") is False:
        raise SsoRefused("email_not_verified", str(value or ""))
    if not isinstance(value, str) or not value.strip():
        raise SsoRefused("no_username_claim", str(claims.get("sub", "")))
    try:
        return clean_label(value, field="username", max_length=150)
    except InvalidInput:
        raise SsoRefused("bad_username_claim", value[:150]) from None


def _match_by_claim(claims: dict) -> User | None:
    value = _claim_value(claims)
    field = "email__iexact" if settings.OIDC_USERNAME_CLAIM == "email" else "username__iexact"
    found = list(User.objects.select_for_update().filter(**{field: value})[:2])
    if len(found) > 1:
        raise SsoRefused("ambiguous", value)
    if not found and field == "email__iexact" and User.objects.filter(username__iexact=value).exists():
        found = list(User.objects.select_for_update().filter(username__iexact=value))
    if not found:
        return None
    user = found[0]
    if user.is_superuser:
        raise SsoRefused("administrator_not_linked_by_name", value)
    if ExternalIdentity.objects.filter(user=user, source=SOURCE).exists():
        raise SsoRefused("linked_to_another_identity", value)
    return user


def _create(claims: dict, subject: str) -> User:
    username = _claim_value(claims)
    if not settings.OIDC_CREATE_USER:
        raise SsoRefused("unknown_user", username)
    user = User(username=username, email=_email(claims) or "", first_name=_text(claims, "given_name", 150),
                last_name=_text(claims, "family_name", 150), display_name=_text(claims, "name", 150))
    user.set_unusable_password()
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:  # the same person's other tab created it first
        raise SsoRefused("concurrent_sign_in", username) from None
    record(action=Action.USER_CREATED, actor=None, target=user, details={"via": "oidc", "subject": subject,
                                                                         "superuser": False})
    return user


def _link(user: User, subject: str, *, created: bool) -> None:
    try:
        with transaction.atomic():
            ExternalIdentity.objects.create(user=user, source=SOURCE, subject=subject)
    except IntegrityError:
        raise SsoRefused("concurrent_sign_in", user.get_username()) from None
    if not created:
        record(action=Action.USER_SSO_LINKED, actor=None, target=user,
               details={"subject": subject, "claim": settings.OIDC_USERNAME_CLAIM})


def _email(claims: dict) -> str | None:
    email = claims.get("email")
    if not isinstance(email, str) or not email or claims.get("email_verified") is False or len(email) > 254:
        return None
    return email.strip()


def _text(claims: dict, name: str, limit: int) -> str:
    value = claims.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _update_from_claims(user: User, claims: dict) -> None:
    """Names, e-mail and (when free) username follow the provider; changes are one audited event."""
    wanted = {"email": _email(claims), "first_name": _text(claims, "given_name", 150) or None,
              "last_name": _text(claims, "family_name", 150) or None,
              "display_name": _text(claims, "name", 150) or None}
    if settings.OIDC_USERNAME_CLAIM != "email":
        name = _claim_value(claims)
        taken = User.objects.filter(username__iexact=name).exclude(pk=user.pk).exists()
        wanted["username"] = None if taken else name
    changed = {field: (getattr(user, field), value) for field, value in wanted.items()
               if value is not None and getattr(user, field) != value}
    if not changed:
        return
    for field, (_old, value) in changed.items():
        setattr(user, field, value)
    user.save(update_fields=list(changed))
    record(action=Action.USER_SSO_UPDATED, actor=None, target=user,
           details={"fields": ", ".join(sorted(changed)),
                    **({"from": changed["username"][0], "to": changed["username"][1]} if "username" in changed
                       else {})})


def _group_values(claims: dict) -> list[str]:
    raw = claims.get(settings.OIDC_GROUPS_CLAIM)
    if raw is None:
        return []  # no claim: no groups from the provider (fail closed: the provider's groups are gone)
    values = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
    cleaned = []
    for value in values:
        if isinstance(value, str) and value.strip() and len(value) <= 150 and value.strip() not in cleaned:
            cleaned.append(value.strip())
        else:
            logger.warning("single sign-on: group claim value %r skipped (not text of 1..150 characters)", value)
    return cleaned


def _groups_from_claims(user: User, claims: dict) -> None:
    """The user's ``oidc`` groups become exactly the claim's; each value is
    the group's external id and its name."""
    if not settings.OIDC_GROUPS_CLAIM:
        return
    groups = []
    for value in _group_values(claims):
        try:
            groups.append(group_ensure(actor=None, source=SOURCE, external_id=value, name=value))
        except (InvalidInput, Conflict):
            logger.warning("single sign-on: group %r skipped (not a valid or free group name)", value)
    user_groups_set(actor=None, user=user, groups=groups, source=SOURCE)


def axes_exempt(request, credentials) -> bool:
    """django-axes counts no failures at the SSO callback: it has no username,
    so its failures would share one bucket per address and a few refusals at an
    office's NAT would block SSO for everyone there. Guessing is pointless
    there anyway: a code is only taken with the state this browser's session holds."""
    return request is not None and request.path == reverse("oidc_authentication_callback")
