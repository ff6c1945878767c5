"""Writes of notifications: follows, e-mail preferences, read marks, webhooks.

User actions record their audit event in the same transaction; the
delivery bookkeeping (portal/notify/tasks.py) is the system's and is not audited.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from portal.audit.actions import Action
from portal.audit.services import record
from portal.core.access import Cap, is_admin
from portal.core.errors import InvalidInput, NotFound
from portal.files.selectors import locate_node
from portal.notify import hooks, webhooks
from portal.notify.models import (DeliveryStatus, EmailMode, EmailPreference, Follow, Kind, Notification, Webhook,
                                  WebhookDelivery)

MAX_EVENT_TYPES = 100


# --- Follows -------------------------------------------------------------------

@transaction.atomic
def follow_set(*, actor, node_id, following: bool) -> bool:
    """Anyone who may read a file follows or stops following it; returns
    whether they follow it now. Setting what already is records nothing."""
    located = locate_node(actor, node_id, Cap.FILE_READ)
    node = located.node
    if following:
        _, changed = Follow.objects.get_or_create(user=actor, node=node)
    else:
        changed = Follow.objects.filter(user=actor, node=node).delete()[0] > 0
    if changed:
        record(action=Action.FILE_FOLLOWED if following else Action.FILE_UNFOLLOWED, actor=actor, target=node,
               target_label=located.path, space=located.space)
    return following


# --- E-mail preferences -----------------------------------------------------------

@transaction.atomic
def email_preferences_set(*, actor, modes: dict) -> EmailPreference:
    """A user sets how each kind reaches them by e-mail (off, at once, daily digest)."""
    if not isinstance(modes, dict) or not modes:
        raise InvalidInput(gettext("Choose how each kind of notification reaches you."))
    clean = {}
    for kind, mode in modes.items():
        if kind not in Kind.values or mode not in EmailMode.values:
            raise InvalidInput(gettext("Unknown notification setting %(kind)s = %(mode)s.") % {
                "kind": str(kind)[:40], "mode": str(mode)[:40]}, detail={"field": str(kind)[:40]})
        clean[kind] = mode
    pref, _ = EmailPreference.objects.select_for_update().get_or_create(user=actor)
    before = dict(pref.modes)
    pref.modes = {**pref.modes, **clean}
    pref.save(update_fields=["modes"])
    changed = {k: v for k, v in pref.modes.items() if before.get(k) != v}
    if changed:
        record(action=Action.NOTIFY_PREFERENCES_CHANGED, actor=actor, target=actor, details={"modes": changed})
    return pref


# --- Read marks --------------------------------------------------------------------

def notifications_mark_read(*, actor, ids=None) -> int:
    """The user marks their own notifications read (all of them, or ``ids``)."""
    rows = Notification.objects.filter(user=actor, read_at__isnull=True)
    if ids is not None:
        rows = rows.filter(pk__in=ids)
    return rows.update(read_at=timezone.now())


# --- Webhooks -------------------------------------------------------------------------

def _require_admin(actor) -> None:
    if not is_admin(actor):
        raise NotFound(gettext("No such page."))


def _clean_events(events) -> list[str]:
    from portal.notify.selectors import webhook_event_choices

    allowed = {code for code, _ in webhook_event_choices()} | {"*"}
    if not isinstance(events, (list, tuple)) or not events or len(events) > MAX_EVENT_TYPES:
        raise InvalidInput(gettext("Choose at least one event type."), detail={"field": "events"})
    unknown = [str(e)[:64] for e in events if e not in allowed]
    if unknown:
        raise InvalidInput(gettext("Unknown event type: %(code)s.") % {"code": ", ".join(unknown[:3])},
                           detail={"field": "events"})
    return sorted(set(events))


def _webhook(webhook_id) -> Webhook:
    try:
        return Webhook.objects.select_for_update().get(pk=int(webhook_id))
    except (TypeError, ValueError, Webhook.DoesNotExist):
        raise NotFound(gettext("No such webhook.")) from None


@transaction.atomic
def webhook_create(*, actor, url, events) -> tuple[Webhook, str]:
    """Administrators subscribe a URL to event types; returns the hook and its
    signing secret (shown to them once; stored sealed to sign deliveries)."""
    _require_admin(actor)
    url, events = webhooks.check_url(url), _clean_events(events)
    secret = webhooks.new_secret()
    hook = Webhook.objects.create(url=url, events=events, sealed_secret=webhooks.seal(secret), created_by=actor)
    record(action=Action.WEBHOOK_CREATED, actor=actor, target=hook, target_label=url, details={"events": events})
    transaction.on_commit(hooks.forget_webhook_actions)
    return hook, secret


@transaction.atomic
def webhook_change(*, actor, webhook_id, active: bool | None = None, events=None) -> Webhook:
    """Administrators pause, resume or re-subscribe a webhook."""
    _require_admin(actor)
    hook = _webhook(webhook_id)
    details = {}
    if active is not None and bool(active) != hook.active:
        hook.active = details["active"] = bool(active)
    if events is not None:
        events = _clean_events(events)
        if events != hook.events:
            hook.events = details["events"] = events
    if details:
        hook.save(update_fields=["active", "events"])
        record(action=Action.WEBHOOK_CHANGED, actor=actor, target=hook, target_label=hook.url, details=details)
        transaction.on_commit(hooks.forget_webhook_actions)
    return hook


@transaction.atomic
def webhook_delete(*, actor, webhook_id) -> None:
    """Administrators delete a webhook and its delivery log."""
    _require_admin(actor)
    hook = _webhook(webhook_id)
    record(action=Action.WEBHOOK_DELETED, actor=actor, target=hook, target_label=hook.url)
    hook.delete()
    transaction.on_commit(hooks.forget_webhook_actions)


@transaction.atomic
def webhook_ping(*, actor, webhook_id) -> WebhookDelivery:
    """Administrators send a test delivery ("ping") to a webhook, paused or not."""
    _require_admin(actor)
    hook = _webhook(webhook_id)
    delivery = WebhookDelivery.objects.create(webhook=hook, action="ping", status=DeliveryStatus.PENDING)
    record(action=Action.WEBHOOK_PINGED, actor=actor, target=hook, target_label=hook.url,
           details={"delivery": delivery.pk})
    hooks.queue_delivery(delivery.pk)
    return delivery


def deliveries_create(*, event) -> list[int]:
    """The system queues one delivery of ``event`` per active webhook that wants it (once each)."""
    wanted = [hook for hook in Webhook.objects.filter(active=True) if hook.wants(event.action)]
    rows = [WebhookDelivery(webhook=hook, event=event, action=event.action) for hook in wanted]
    WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    ids = list(WebhookDelivery.objects.filter(event=event, webhook__in=wanted, status=DeliveryStatus.PENDING,
                                              attempts=0).values_list("pk", flat=True))
    for delivery_id in ids:
        hooks.queue_delivery(delivery_id)
    return ids
