"""The response to an actor the ransomware detector flagged
(portal.governance.ransomware), per PORTAL_RANSOMWARE_RESPONSE, and the alerts
it leaves: one ``governance.ransomware_suspected`` audit event per space the
actor touched, which notifies the space's managers and owners and the
administrators (portal.notify, kind ``ransomware_suspected``) and lists in
the console's governance page. Each alert carries T, one second before the
first event of the burst, and the folder that holds everything it touched:
the point-in-time restore page opens with both filled in (restore_url).

No model of its own: the audit log keeps the alerts, Redis the windows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from portal.audit.actions import Action
from portal.audit.models import AuditEvent
from portal.audit.services import record
from portal.core.access import require_admin
from portal.governance import ransomware

BY = Action.GOVERNANCE_RANSOMWARE_SUSPECTED.value  # the "by" of the revocations it makes
SYSTEM_LABEL = "ransomware detection"


def ransomware_respond(*, suspect: str) -> dict:
    """The system (the ``governance.ransomware_respond`` task, once per flag):
    suspend the suspect as the policy says, then record one alert per space."""
    response = settings.RANSOMWARE_RESPONSE
    if response == "off" or not ransomware.enabled():
        return {"alerts": 0}
    found = ransomware.bursts(suspect)
    kind, _, raw_id = suspect.partition(":")
    if not found or kind not in ("user", "link") or not raw_id.isdigit():
        return {"alerts": 0}
    from portal.spaces.models import Space

    with transaction.atomic():
        target, label, suspension = _suspend(kind, int(raw_id), response)
        spaces = Space.objects.in_bulk([burst.space_id for burst in found])
        alerts = 0
        for burst in found:
            if burst.space_id not in spaces:
                continue
            first = datetime.fromtimestamp(burst.first_at, tz=UTC)
            at = first.replace(microsecond=0) - timedelta(seconds=1)
            record(action=Action.GOVERNANCE_RANSOMWARE_SUSPECTED, actor=None, actor_label=SYSTEM_LABEL,
                   target=target, target_label=label, space=spaces[burst.space_id],
                   details={"suspect": suspect, "first_at": first.isoformat(), "at": at.isoformat(),
                            "path": _common_folder(burst.event_ids), "changes": burst.changes,
                            "suspicious": burst.suspicious, "extensions": burst.extensions, "notes": burst.notes,
                            "entropy": burst.entropy, "response": response, **suspension})
            alerts += 1
    return {"alerts": alerts, **suspension}


def _suspend(kind: str, pk: int, response: str):
    """The suspect's row and label, and what was suspended (nothing under "alert")."""
    from portal.accounts.models import User
    from portal.accounts.services import user_credentials_suspend, user_disable
    from portal.shares.models import ShareLink
    from portal.shares.services import share_link_revoke

    suspend = response in ("suspend", "disable")
    if kind == "link":
        link = ShareLink.objects.filter(pk=pk).first()
        if link is not None and suspend and link.revoked_at is None:
            share_link_revoke(actor=None, link_id=pk)
            return link, f"link {pk}", {"link_revoked": True}
        return link, f"link {pk}", {}
    user = User.objects.filter(pk=pk).first()
    if user is None or not suspend:
        return user, user.get_username() if user else f"user {pk}", {}
    suspension = user_credentials_suspend(actor=None, user_id=pk, by=BY)
    if response == "disable":
        user_disable(actor=None, user_id=pk)
        suspension["disabled"] = True
    return user, user.get_username(), suspension


def _common_folder(event_ids: list[int]) -> str:
    """The deepest folder holding every path the events name (before and after a move): "" for the root."""
    common: list[str] | None = None
    for label, details in AuditEvent.objects.filter(pk__in=event_ids).values_list("target_label", "details"):
        paths = [label] + [str(details.get(key)) for key in ("from", "to")
                           if isinstance(details, dict) and details.get(key)]
        for path in paths:
            parts = [part for part in path.split("/") if part][:-1]
            if common is None:
                common = parts
            else:
                size = 0
                while size < min(len(common), len(parts)) and common[size] == parts[size]:
                    size += 1
                common = common[:size]
    return "/" + "/".join(common) if common else ""


def restore_url(event: AuditEvent) -> str:
    """The point-in-time restore page of the alert's space, T and folder filled in."""
    details = event.details if isinstance(event.details, dict) else {}
    query = {"at": details.get("at", "")}
    if details.get("path"):
        query["path"] = details["path"]
    return reverse("web:point-restore", args=[event.space_id]) + "?" + urlencode(query)


def ransomware_alert_list(*, actor, limit: int = 100) -> list[AuditEvent]:
    """Administrators: the latest alerts, newest first, each with ``restore_url``."""
    from django.utils.translation import gettext

    require_admin(actor, gettext("Only administrators see ransomware alerts."))
    alerts = list(AuditEvent.objects.filter(action=Action.GOVERNANCE_RANSOMWARE_SUSPECTED)
                  .select_related("space").order_by("-id")[:limit])
    responses = {"alert": gettext("alert only"), "suspend": gettext("sign-ins suspended"),
                 "disable": gettext("account disabled")}
    for alert in alerts:
        alert.restore_url = restore_url(alert)
        alert.response_label = responses.get(str(alert.details.get("response")), "")
        try:
            alert.first_at = datetime.fromisoformat(str(alert.details.get("first_at")))
        except (AttributeError, ValueError):
            alert.first_at = None
    return alerts
