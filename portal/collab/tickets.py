"""Tickets: what a page hands its editor so the websocket server knows who
connects, to which file and to which session.

The websocket server is another process (often another port), so the page
gives the editor a ticket instead of relying on the session cookie: signed
with the site's secret, naming the user (or the share link), the file and
the co-editing session, and bound to the user's password (a changed password
ends every ticket). A ticket only says who; what they may do is looked up
again on every connection and every few seconds while it lasts.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.utils.crypto import salted_hmac

_SALT = "coffer.coedit.ticket"


class InvalidTicket(Exception):
    pass


@dataclass(frozen=True)
class Ticket:
    node_id: int
    session_id: int
    user_id: int | None
    link_id: int | None
    binding: str


def binding_of(*, user=None, link=None) -> str:
    """What a ticket is bound to: the user's password hash (through Django's
    session auth hash) or the link's token and password."""
    if user is not None:
        return salted_hmac(_SALT, user.get_session_auth_hash()).hexdigest()[:32]
    # A new password or recipient list bumps unlock_epoch: tickets handed out before stop working.
    return salted_hmac(_SALT, f"link:{link.pk}:{link.verifier}:{link.unlock_epoch}").hexdigest()[:32]


def ticket_issue(*, node_id: int, session_id: int, user=None, link=None) -> str:
    payload = {"n": node_id, "s": session_id, "u": getattr(user, "pk", None), "l": getattr(link, "pk", None),
               "b": binding_of(user=user, link=link)}
    return signing.dumps(payload, salt=_SALT, compress=False)


def ticket_read(value) -> Ticket:
    """The ticket's contents; InvalidTicket for a forged, altered or expired one."""
    if not isinstance(value, str) or not value or len(value) > 1000:
        raise InvalidTicket("no ticket")
    try:
        payload = signing.loads(value, salt=_SALT, max_age=settings.COEDIT_TICKET_HOURS * 3600)
        ticket = Ticket(node_id=int(payload["n"]), session_id=int(payload["s"]),
                        user_id=None if payload["u"] is None else int(payload["u"]),
                        link_id=None if payload["l"] is None else int(payload["l"]), binding=str(payload["b"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError) as error:
        raise InvalidTicket(str(error)) from None
    if (ticket.user_id is None) == (ticket.link_id is None):
        raise InvalidTicket("a ticket names a user or a link")
    return ticket
