"""Writes made by SCIM provisioning. Administrators create and revoke the
tokens; an identity provider holding one creates, changes and disables
users and groups through the views, as the system (actor=None) under the
label ``scim:<token name>`` (portal.audit.context's system label)."""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass, replace
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from portal.accounts.models import User
from portal.accounts.services import user_create, user_disable
from portal.audit import context
from portal.audit.actions import Action
from portal.audit.models import Outcome
from portal.audit.services import record
from portal.core.access import is_admin
from portal.core.errors import Conflict, Forbidden, InvalidInput
from portal.core.tokens import TokenFormat, verify
from portal.core.validation import clean_label
from portal.people import services as groups
from portal.people.models import ExternalIdentity, Group, GroupSource
from portal.people.scim.models import ScimToken

TOKEN_FORMAT = TokenFormat(prefix="scim_", separator="_", secret_bytes=32, strip=True)
_TOUCH_EVERY = timedelta(minutes=1)


# --- Tokens ------------------------------------------------------------------------

@transaction.atomic
def scim_token_create(*, actor, name: str) -> tuple[ScimToken, str]:
    """An administrator (or the system: ``manage.py scim_token``) makes a
    token for one identity provider. Returns the row and the plaintext,
    which is never stored and cannot be shown again."""
    if actor is not None and not is_admin(actor):
        raise Forbidden(gettext("Only administrators create SCIM tokens."))
    name = clean_label(name, field="name", max_length=100)
    plaintext, selector, verifier = TOKEN_FORMAT.generate()
    token = ScimToken.objects.create(name=name, selector=selector, verifier_hash=verifier,
                                     created_by=actor if actor is not None else None)
    record(action=Action.SCIM_TOKEN_CREATED, actor=actor, target=token)
    return token, plaintext


@transaction.atomic
def scim_token_revoke(*, actor, token: ScimToken) -> ScimToken:
    """Administrators revoke a token; the provider's next request gets 401. Twice is harmless."""
    if actor is not None and not is_admin(actor):
        raise Forbidden(gettext("Only administrators revoke SCIM tokens."))
    token = ScimToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        record(action=Action.SCIM_TOKEN_REVOKED, actor=actor, target=token)
    return token


def scim_token_authenticate(raw) -> ScimToken | None:
    """The live token ``raw`` names, or None. A wrong secret or a revoked
    token that names a real row is audited (token.rejected)."""
    parsed = TOKEN_FORMAT.parse(raw)
    if parsed is None:
        return None
    selector, secret = parsed
    token = ScimToken.objects.filter(selector=selector).first()
    if token is None:
        return None
    if not verify(secret, token.verifier_hash) or token.revoked_at is not None:
        reason = "revoked" if token.revoked_at is not None else "wrong secret"
        record(action=Action.TOKEN_REJECTED, target=token, outcome=Outcome.DENIED, details={"reason": reason})
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > _TOUCH_EVERY:
        ScimToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


@contextlib.contextmanager
def acting_as(token: ScimToken):
    """Events written meanwhile name the token as their actor ("scim:okta")."""
    bound = context.bind(replace(context.current(), system_label=f"scim:{token.name}"))
    try:
        yield
    finally:
        context.unbind(bound)


# --- Users -------------------------------------------------------------------------

@dataclass(frozen=True)
class UserFields:
    """A SCIM User as Coffer keeps it. ``active`` / ``external_id`` None: not given (left as they are)."""

    username: str
    first_name: str = ""
    last_name: str = ""
    display_name: str = ""
    email: str = ""
    active: bool | None = None
    external_id: str | None = None
    password: str | None = None


def _clean(fields: UserFields) -> UserFields:
    username = clean_label(fields.username, field="userName", max_length=150)
    email = (fields.email or "").strip()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise InvalidInput(gettext("%(email)r is not an e-mail address.") % {"email": email},
                               detail={"field": "emails"}) from None
    external_id = fields.external_id.strip() if isinstance(fields.external_id, str) else None
    if external_id is not None and len(external_id) > 512:
        raise InvalidInput(gettext("externalId is too long (at most 512 characters)."))
    display_name = (fields.display_name or "").strip()
    if display_name:
        display_name = clean_label(display_name, field="displayName", max_length=150)
    return replace(fields, username=username, email=email, external_id=external_id, display_name=display_name,
                   first_name=(fields.first_name or "").strip()[:150], last_name=(fields.last_name or "").strip()[:150])


def _external_id_set(user: User, external_id: str | None) -> bool:
    """The user's SCIM externalId becomes ``external_id`` ("" drops it); True if it changed."""
    if external_id is None:
        return False
    current = ExternalIdentity.objects.filter(user=user, source=GroupSource.SCIM).first()
    if (current.subject if current else "") == external_id:
        return False
    if external_id and ExternalIdentity.objects.filter(source=GroupSource.SCIM, subject=external_id).exclude(
            user=user).exists():
        raise Conflict(gettext("Another user has the externalId %(id)r.") % {"id": external_id},
                       code="external_id_taken")
    if not external_id:
        current.delete()
    elif current:
        current.subject, current.updated_at = external_id, timezone.now()
        current.save(update_fields=["subject", "updated_at"])
    else:
        try:
            with transaction.atomic():
                ExternalIdentity.objects.create(user=user, source=GroupSource.SCIM, subject=external_id)
        except IntegrityError:  # a concurrent request gave it to someone else first
            raise Conflict(gettext("Another user has the externalId %(id)r.") % {"id": external_id},
                           code="external_id_taken") from None
    return True


@transaction.atomic
def scim_user_create(*, token: ScimToken, fields: UserFields) -> User:
    """The identity provider adds a user: a password it sends is kept
    (after the password rules), otherwise the account signs in only through
    single sign-on (or after a password reset)."""
    fields = _clean(fields)
    with acting_as(token):
        user = user_create(actor=None, username=fields.username, email=fields.email,
                           password=fields.password or secrets.token_urlsafe(32))
        if not fields.password:
            user.set_unusable_password()
        user.first_name, user.last_name, user.display_name = fields.first_name, fields.last_name, fields.display_name
        user.save(update_fields=["password", "first_name", "last_name", "display_name"])
        _external_id_set(user, fields.external_id or None)
        if fields.active is False:
            user_disable(actor=None, user_id=user.pk)
            user.refresh_from_db()
    return user


_PROFILE = ("username", "first_name", "last_name", "display_name", "email")


@transaction.atomic
def scim_user_update(*, token: ScimToken, user: User, fields: UserFields) -> User:
    """The identity provider changes a user (PUT or PATCH, already merged
    into ``fields``): profile, externalId, active. Deactivation is
    ``user_disable`` (sessions, tokens, links and devices end); an
    administrator's account is not the provider's to change."""
    fields = _clean(fields)
    user = User.objects.select_for_update().get(pk=user.pk)
    changed = [name for name in _PROFILE if getattr(user, name) != getattr(fields, name)]
    toggles = fields.active is not None and fields.active != user.is_active
    linked = ExternalIdentity.objects.filter(user=user, source=GroupSource.SCIM).values_list("subject", flat=True)
    relinks = fields.external_id is not None and fields.external_id != (linked.first() or "")
    if user.is_superuser and (changed or toggles or fields.password or relinks):
        raise Forbidden(gettext("An administrator's account is changed in the portal, not by provisioning."))
    if "username" in changed and User.objects.filter(username__iexact=fields.username).exclude(pk=user.pk).exists():
        raise Conflict(gettext("A user named %(username)r already exists.") % {"username": fields.username},
                       code="user_exists")
    with acting_as(token):
        if fields.password:
            _password_set(user, fields.password)
            changed.append("password")
        if _external_id_set(user, fields.external_id):
            changed.append("externalId")
        if changed:
            before = {name: getattr(user, name) for name in _PROFILE if name in changed}
            for name in _PROFILE:
                setattr(user, name, getattr(fields, name))
            user.save(update_fields=[*_PROFILE, "password"])
            record(action=Action.SCIM_USER_UPDATED, target=user,
                   details={"fields": ", ".join(changed), **({"from": before["username"], "to": user.username}
                                                              if "username" in before else {})})
        if toggles:
            user = _active_set(user, fields.active)
    return user


def _password_set(user: User, password: str) -> None:
    from django.contrib.auth.password_validation import validate_password

    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise InvalidInput(gettext("The password is too weak: %(reasons)s") % {"reasons": " ".join(exc.messages)},
                           code="weak_password") from None
    user.set_password(password)


def _active_set(user: User, active: bool) -> User:
    if not active:
        return user_disable(actor=None, user_id=user.pk)
    user.is_active = True
    user.save(update_fields=["is_active"])
    record(action=Action.USER_ENABLED, target=user, details={"by": "scim"})
    return user


@transaction.atomic
def scim_user_deactivate(*, token: ScimToken, user: User) -> User:
    """DELETE /Users/<id>: the account is disabled, not erased (its files,
    spaces and audit trail stay); ``active: true`` brings it back."""
    if user.is_superuser:
        raise Forbidden(gettext("An administrator's account is changed in the portal, not by provisioning."))
    with acting_as(token):
        return user_disable(actor=None, user_id=user.pk)


# --- Groups ------------------------------------------------------------------------

def _members(user_ids) -> list[int]:
    ids = set()
    for raw in user_ids:
        if not (isinstance(raw, (str, int)) and str(raw).isdigit()):
            raise InvalidInput(gettext("A member's value is a user id; %(value)r is not.") % {"value": raw})
        ids.add(int(raw))
    missing = ids - set(User.objects.filter(pk__in=ids).values_list("pk", flat=True))
    if missing:
        raise InvalidInput(gettext("No user has the id %(id)s.") % {"id": min(missing)})
    return sorted(ids)


@transaction.atomic
def scim_group_create(*, token: ScimToken, name: str, external_id: str = "", user_ids=()) -> Group:
    """The identity provider pushes a group (source "scim") and its members."""
    members = _members(user_ids)
    if external_id and Group.objects.filter(source=GroupSource.SCIM, external_id=external_id).exists():
        raise Conflict(gettext("Another group has the externalId %(id)r.") % {"id": external_id},
                       code="external_id_taken")
    with acting_as(token):
        group = groups.group_create(actor=None, name=name, source=GroupSource.SCIM, external_id=external_id or "")
        if members:
            groups.group_members_set(actor=None, group=group, user_ids=members)
    return group


@transaction.atomic
def scim_group_update(*, token: ScimToken, group: Group, name: str, user_ids=None) -> Group:
    """Rename and/or set the members (``user_ids`` None: unchanged). The
    externalId a group was created with stays: it is how the provider and
    a directory sync find the group again."""
    members = None if user_ids is None else _members(user_ids)
    with acting_as(token):
        group = groups.group_rename(actor=None, group=group, name=name)
        if members is not None:
            groups.group_members_set(actor=None, group=group, user_ids=members)
    return group


@transaction.atomic
def scim_group_delete(*, token: ScimToken, group: Group) -> None:
    """Members lose what the group gave them in spaces at once."""
    with acting_as(token):
        groups.group_delete(actor=None, group=group)
