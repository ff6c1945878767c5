"""Forgot password: anyone may ask for a set-password link for an e-mail
address; the answer is the same whoever owns it, or nobody.

The request only counts (per client address and per e-mail address, in the
cache) and queues a Celery task per matching account, so a known and an
unknown address take the same time to answer; the task sends the mail and
records ``auth.password_reset_requested`` once it went out. Disabled
accounts, and accounts of single sign-on users with no local password, get
nothing. The link is Django's token (portal.accounts.mail.set_password_url)."""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q

from portal.accounts import mail
from portal.accounts.models import User
from portal.audit import context
from portal.audit.actions import Action
from portal.audit.services import record
from portal.outbox.services import enqueue

logger = logging.getLogger(__name__)
_WINDOW = 3600


def _within_limit(kind: str, value: str) -> bool:
    key = f"accounts:password-reset:{kind}:{hashlib.sha256(value.encode()).hexdigest()}"
    cache.add(key, 0, timeout=_WINDOW)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=_WINDOW)
        count = 1
    return count <= settings.PASSWORD_RESETS_PER_HOUR


def _eligible(email: str):
    """Active accounts with this address, except single sign-on accounts
    without a local password (their password is the provider's business)."""
    sso_only = Q(password__startswith=UNUSABLE_PASSWORD_PREFIX) & Q(external_identities__isnull=False)
    return User.objects.filter(email__iexact=email, is_active=True).exclude(sso_only).distinct()


def password_reset_request(*, email: str, ip: str | None, language: str) -> None:
    """Anyone asks for a link for ``email``. Over PASSWORD_RESETS_PER_HOUR per
    address or per e-mail: no mail, and no different answer."""
    email = str(email or "").strip()[:254]
    by_ip = _within_limit("ip", ip or "-")
    by_email = _within_limit("email", email.lower())
    if not (by_ip and by_email and "@" in email):
        return
    from portal.accounts.tasks import password_reset_mail

    for user_id in _eligible(email).values_list("pk", flat=True):
        enqueue(password_reset_mail, user_id, language, ip)


def password_reset_mail_send(*, user_id: int, language: str, ip: str | None = None) -> bool:
    """The task's work: mail the link if the account may still have one, and
    record that it was sent (with the asking client's address)."""
    user = User.objects.filter(pk=user_id).first()
    if user is None or not user.email or not _eligible(user.email).filter(pk=user.pk).exists():
        return False
    mail.set_password_send(user=user, reason="forgot", language=user.language or language)
    token = context.bind(context.RequestContext(ip=ip))
    try:
        record(action=Action.PASSWORD_RESET_REQUESTED, actor=None, actor_label="", target=user,
               details={"email": user.email})
    finally:
        context.unbind(token)
    return True


@transaction.atomic
def password_reset_complete(*, user: User, password: str) -> User:
    """Whoever holds a valid set-password link sets the password (the view
    checked the link and the password's strength); the user's sessions
    elsewhere end with the old password, and the link stops working."""
    user.set_password(password)
    user.save(update_fields=["password"])
    record(action=Action.PASSWORD_RESET_DONE, actor=user, target=user)
    return user
