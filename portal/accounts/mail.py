"""Mails to account holders, each in the recipient's language: set-password
links (forgot password, an administrator's reset, a new account) and
invitations. Links point at PORTAL_PUBLIC_URL, never at the Host a request
named (a forged Host header must not put an attacker's address in a mail)."""

from __future__ import annotations

import logging
import smtplib

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext

from portal.core.errors import PortalError

logger = logging.getLogger(__name__)


class MailFailed(PortalError):
    status = 502
    code = "mail_failed"


def set_password_url(user) -> str:
    """A one-time link to set ``user``'s password (Django's token: it stops
    working once the password, the e-mail or the last sign-in changes, and
    after PASSWORD_RESET_TIMEOUT)."""
    path = reverse("password_reset_confirm", kwargs={"uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                                                     "token": default_token_generator.make_token(user)})
    return settings.PUBLIC_URL + path


def invitation_url(token: str) -> str:
    return settings.PUBLIC_URL + reverse("invitation-accept", kwargs={"token": token})


def language_of(user=None) -> str:
    """The user's chosen language, else the one active now (the request's)."""
    return (getattr(user, "language", "") or translation.get_language() or settings.LANGUAGE_CODE)


def _send(*, to: str, template: str, context: dict, language: str) -> None:
    with translation.override(language):
        subject = " ".join(render_to_string(f"registration/{template}_subject.txt", context).split())
        body = render_to_string(f"registration/{template}_email.txt", context)
        failed = gettext("The e-mail to %(address)s could not be sent; check the portal's mail settings "
                         "and try again.") % {"address": to}
    try:
        send_mail(subject=subject, message=body, from_email=None, recipient_list=[to])
    except (OSError, smtplib.SMTPException):
        logger.warning("could not send the %s mail to %s", template, to, exc_info=True)
        raise MailFailed(failed) from None


def set_password_send(*, user, reason: str, language: str | None = None) -> None:
    """Mail ``user`` a set-password link. ``reason``: "forgot" (they asked),
    "admin" (an administrator sent it), "new" (their account was just made).
    Raises MailFailed when the mail server refuses."""
    context = {"username": user.get_username(), "name": user.display_name or user.get_username(),
               "url": set_password_url(user), "hours": settings.PASSWORD_RESET_TIMEOUT // 3600,
               "reason": reason, "portal": settings.PUBLIC_URL}
    _send(to=user.email, template="set_password", context=context, language=language or language_of(user))


def invitation_send(*, invitation, token: str, inviter, language: str | None = None) -> None:
    context = {"inviter": (inviter.display_name or inviter.get_username()) if inviter else "",
               "url": invitation_url(token), "days": settings.INVITATION_DAYS, "portal": settings.PUBLIC_URL,
               "staff": invitation.staff}
    _send(to=invitation.email, template="invitation", context=context, language=language or language_of(inviter))
