"""Notification e-mails: one at once, or a daily digest, each in the
recipient's language and time zone."""

from __future__ import annotations

import logging
import smtplib
import zoneinfo
from contextlib import contextmanager

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext

from portal.notify.texts import sentence

logger = logging.getLogger(__name__)


def language_of(user) -> str:
    return getattr(user, "language", "") or settings.LANGUAGE_CODE


def zone_of(user):
    try:
        return zoneinfo.ZoneInfo(user.time_zone or settings.TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


@contextmanager
def as_seen_by(user):
    with translation.override(language_of(user)), timezone.override(zone_of(user)):
        yield


def _absolute(url: str) -> str:
    return settings.PUBLIC_URL.rstrip("/") + url if url.startswith("/") else url


def _send(user, subject: str, body: str) -> bool:
    try:
        send_mail(subject=subject, message=body, from_email=None, recipient_list=[user.email])
        return True
    except (OSError, smtplib.SMTPException):
        logger.warning("could not mail notifications to user %s", user.pk, exc_info=True)
        return False


def send_one(note) -> bool:
    user = note.user
    with as_seen_by(user):
        text = sentence(note)
        body = render_to_string("notify/email_one.txt", {"user": user, "text": text, "url": _absolute(note.url),
                                                         "settings_url": _absolute("/account/")})
        return _send(user, text, body)


def send_digest(user, notes) -> bool:
    with as_seen_by(user):
        items = [{"text": sentence(n), "url": _absolute(n.url), "at": timezone.localtime(n.created_at)} for n in notes]
        subject = gettext("New on Coffer: %(count)d notifications") % {"count": len(items)}
        body = render_to_string("notify/email_digest.txt", {"user": user, "items": items,
                                                            "settings_url": _absolute("/account/"),
                                                            "title": gettext("Your daily digest")})
        return _send(user, subject, body)
