"""E-mailing a named-people link to its recipients.

Creating a link for named people, or adding people to one, queues one
message per new recipient (``queue_link_mail``, on commit: nothing is sent
for a link that was rolled back). The Celery task sends each in the
recipient's language when they have an account with that address, else in
the sharer's; a failed message is logged and counted, never fatal. One
``share.link_mailed`` event says how many went out."""

from __future__ import annotations

import logging

from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.utils import translation
from django.utils.translation import gettext

from portal.audit.actions import Action
from portal.audit.services import record
from portal.shares import tokens
from portal.shares.models import ShareLink
from portal.outbox.services import enqueue

logger = logging.getLogger(__name__)


def queue_link_mail(link: ShareLink, emails: list[str], *, language: str | None) -> None:
    """Mail ``emails`` the link once the caller's transaction commits."""
    if not emails:
        return
    from portal.shares.tasks import mail_link  # the task module imports the services

    enqueue(mail_link, link.pk, list(emails), language or "")


def _languages(emails: list[str]) -> dict[str, str]:
    """The chosen language of active accounts with these addresses (one query)."""
    users = get_user_model().objects.filter(email__in=emails, is_active=True).exclude(language="")
    return {email.lower(): language for email, language in users.values_list("email", "language")}


def _message(link: ShareLink, url: str) -> tuple[str, str]:
    values = {"owner": link.created_by.get_username(), "name": link.node.name, "url": url}
    subject = gettext("%(owner)s shared “%(name)s” with you") % values
    body = gettext("%(owner)s shared “%(name)s” with you on Coffer:\n\n    %(url)s\n\n"
                   "The link asks for this e-mail address and sends a one-time security code to it.") % values
    if link.expires_at is not None:
        body += "\n\n" + gettext("The link works until %(when)s (UTC).") % {
            "when": link.expires_at.strftime("%Y-%m-%d %H:%M")}
    return subject, body


def mail_link(link_id: int, emails: list[str], language: str = "") -> int:
    """Send the link to each address that is still a recipient of the still
    live link; returns how many messages went out."""
    link = ShareLink.objects.select_related("node", "created_by", "space").filter(pk=link_id).first()
    if link is None or link.state_at() != "active":
        return 0
    wanted = set(link.recipients.filter(email__in=emails).values_list("email", flat=True))
    url = tokens.link_url(tokens.unseal(link.sealed_token))
    chosen = _languages(sorted(wanted))
    sent = failed = 0
    for email in sorted(wanted):
        with translation.override(chosen.get(email) or language or None):
            subject, body = _message(link, url)
        try:
            send_mail(subject=subject, message=body, from_email=None, recipient_list=[email])
            sent += 1
        except Exception:  # noqa: BLE001 - one bad address or a mail server hiccup must not stop the others
            failed += 1
            logger.warning("mailing link %s to a recipient failed", link.pk, exc_info=True)
    from portal.shares.services import link_label

    record(action=Action.SHARE_LINK_MAILED, target=link, target_label=link_label(link), space=link.space,
           details={"count": sent, "failed": failed})
    return sent
