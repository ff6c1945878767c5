"""Enrollment tokens, enrollment, and what happens to a device afterwards."""

from __future__ import annotations

import shlex
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from portal.audit.actions import Action
from portal.audit.models import Outcome
from portal.audit.services import record
from portal.backups import tokens
from portal.backups.keys import KeySet, keys_of, user_key_set
from portal.backups.models import Device, EnrollmentToken
from portal.core.errors import InvalidInput
from portal.core.validation import clean_label

# last_seen_at is written at most this often per device.
_TOUCH_EVERY = timedelta(seconds=60)
MAX_ERROR_LENGTH = 4000


def enroll_command(token: str) -> str:
    """The exact line a user pastes on the machine to enroll it."""
    return f"coffer-agent enroll --server {shlex.quote(settings.PUBLIC_URL)} --token {token}"


@transaction.atomic
def enrollment_token_create(*, actor, owner, name: str = "") -> tuple[EnrollmentToken, str]:
    """A user makes a token for a device of their own; the system (actor None,
    ``manage.py device_token``) for anyone. Returns the row and the plaintext,
    which is never stored."""
    name = clean_label(name, field="name", max_length=100) if name else ""
    plaintext, selector, verifier = tokens.generate(tokens.ENROLLMENT)
    token = EnrollmentToken.objects.create(
        user=owner, name=name, selector=selector, verifier_hash=verifier,
        expires_at=timezone.now() + timedelta(hours=settings.BACKUP_ENROLLMENT_HOURS))
    record(action=Action.DEVICE_ENROLLMENT_TOKEN_CREATED, actor=actor, target=token,
           details={"owner": owner.get_username(), "expires_at": token.expires_at.isoformat()})
    return token, plaintext


def _refuse(token: EnrollmentToken | None, code: str, message: str):
    """Refusals of a real token are audited (a replayed or stale token in use shows up)."""
    if token is not None:
        record(action=Action.DEVICE_ENROLLED, actor=None, actor_label=token.user.get_username(), target=token,
               outcome=Outcome.DENIED, details={"reason": code})
    raise InvalidInput(message, code=code)


def _enrollment_token(raw) -> EnrollmentToken:
    parsed = tokens.parse(tokens.ENROLLMENT, raw)
    if parsed is None:
        _refuse(None, "enrollment_token_invalid", "That is not an enrollment token; copy the whole command again.")
    token = EnrollmentToken.objects.select_related("user").filter(selector=parsed[0]).first()
    if token is None or not tokens.verify(parsed[1], token.verifier_hash):
        _refuse(None, "enrollment_token_invalid", "The enrollment token is not valid; make a new one in the portal.")
    if token.used_at is not None:
        _refuse(token, "enrollment_token_used", "This enrollment token was already used; make a new one.")
    if token.expires_at <= timezone.now():
        _refuse(token, "enrollment_token_expired", "This enrollment token has expired; make a new one.")
    if not token.user.is_active:
        _refuse(token, "enrollment_token_invalid", "The token's user is disabled.")
    return token


def device_enroll(*, token: str, hostname: str, platform: str, name: str = "") -> tuple[Device, str, KeySet]:
    """Anyone holding a valid enrollment token turns it into a device of the
    token's user. Returns the device, its token (plaintext, shown once) and
    the user's own key set (nothing else: no other user's, not the old
    deployment-wide one)."""
    hostname = clean_label(hostname, field="hostname", max_length=255)
    platform = clean_label(platform, field="platform", max_length=255)
    found = _enrollment_token(token)  # outside the transaction: an audited refusal must stay recorded
    with transaction.atomic():
        # Lock the row: two enrollments racing on one token make one device.
        row = EnrollmentToken.objects.select_for_update().get(pk=found.pk)
        if row.used_at is not None:
            raise InvalidInput(gettext("This enrollment token was already used; make a new one."),
                               code="enrollment_token_used")
        name = clean_label(name or row.name or hostname, field="name", max_length=100)
        plaintext, selector, verifier = tokens.generate(tokens.DEVICE)
        key_set = user_key_set(found.user)
        device = Device.objects.create(user=found.user, name=name, hostname=hostname, platform=platform,
                                       selector=selector, verifier_hash=verifier, last_seen_at=timezone.now(),
                                       key_set=key_set)
        row.used_at = timezone.now()
        row.device = device
        row.save(update_fields=["used_at", "device"])
        record(action=Action.DEVICE_ENROLLED, actor=found.user, target=device,
               details={"hostname": hostname, "platform": platform, "enrollment_token": row.pk})
    return device, plaintext, keys_of(key_set)


@transaction.atomic
def device_rekey(*, device: Device) -> tuple[KeySet, str | None]:
    """The authenticated device fetches its user's current key set (enrolled
    before key sets were per user, or after a rotation). Returns the keys and
    the id of the set it held before (None if it already held these);
    audited ``device.rekeyed`` when the set changes."""
    device = Device.objects.select_for_update().get(pk=device.pk)
    current = user_key_set(device.user)
    before = device.key_set.key_id if device.key_set else None
    if device.key_set_id != current.pk:
        device.key_set = current
        device.save(update_fields=["key_set"])
        record(action=Action.DEVICE_REKEYED, actor=device.user, target=device,
               details={"key_set": current.key_id, "replaces": before})
    return keys_of(current), (before if before != current.key_id else None)


class DeviceRejected(Exception):
    def __init__(self, reason: str, *, revoked: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.revoked = revoked


def device_authenticate(raw: str) -> Device:
    """The device a presented token names, or DeviceRejected saying why;
    notes when the device was last seen."""
    parsed = tokens.parse(tokens.DEVICE, raw)
    if parsed is None:
        raise DeviceRejected("The device token is malformed.")
    device = Device.objects.select_related("user").filter(selector=parsed[0]).first()
    if device is None or not tokens.verify(parsed[1], device.verifier_hash):
        raise DeviceRejected("The device token is not valid.")
    if device.revoked_at is not None:
        raise DeviceRejected("This device was revoked; enroll it again to back it up.", revoked=True)
    if not device.user.is_active:
        raise DeviceRejected("The device's user is disabled.")
    now = timezone.now()
    if device.last_seen_at is None or now - device.last_seen_at > _TOUCH_EVERY:
        Device.objects.filter(pk=device.pk).update(last_seen_at=now)
        device.last_seen_at = now
    return device


@transaction.atomic
def device_update(*, actor, device: Device, name: str | None = None, excludes: list | None = None) -> Device:
    """The device's owner or an administrator (checked by the caller's
    ``access_device``) renames it or sets its exclude patterns."""
    changed = []
    if name is not None:
        name = clean_label(name, field="name", max_length=100)
        if name != device.name:
            old, device.name = device.name, name
            changed.append("name")
            record(action=Action.DEVICE_RENAMED, actor=actor, target=device, details={"from": old, "to": name})
    if excludes is not None:
        if not isinstance(excludes, list) or not all(isinstance(p, str) and 0 < len(p) <= 1000 for p in excludes) \
                or len(excludes) > 1000:
            raise InvalidInput(gettext("excludes is a list of at most 1000 non-empty patterns."), code="invalid_excludes")
        device.excludes = excludes
        changed.append("excludes")
    if changed:
        device.save(update_fields=changed)
    return device


@transaction.atomic
def device_revoke(*, actor, device: Device) -> Device:
    """The owner or an administrator revokes a device: its token stops
    working at once. Its snapshots stay, to restore from. Twice is harmless."""
    device = Device.objects.select_for_update().get(pk=device.pk)
    if device.revoked_at is None:
        device.revoked_at = timezone.now()
        device.save(update_fields=["revoked_at"])
        record(action=Action.DEVICE_REVOKED, actor=actor, target=device,
               details={"owner": device.user.get_username()})
    return device


@transaction.atomic
def device_report_failure(*, device: Device, error) -> Device:
    """A device reports a failed backup run: its error state, audited."""
    if not isinstance(error, str) or not error.strip():
        raise InvalidInput(gettext("error must be a non-empty text."), code="invalid_error")
    device.last_error = error.strip()[:MAX_ERROR_LENGTH]
    device.last_error_at = timezone.now()
    device.save(update_fields=["last_error", "last_error_at"])
    record(action=Action.BACKUP_FAILED, actor=device.user, target=device, outcome=Outcome.FAILURE,
           details={"error": device.last_error[:500]})
    return device
