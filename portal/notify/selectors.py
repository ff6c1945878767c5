"""Reads of notifications and webhooks, scoped to the actor."""

from __future__ import annotations

from django.db.models import QuerySet

from portal.audit.actions import Action
from portal.notify.dispatch import NODE_SHARED
from portal.notify.models import Follow, Notification, Webhook, WebhookDelivery

LIST_LIMIT = 50


def unread_count(actor) -> int:
    """The bell's number: one COUNT over the partial index of unread rows."""
    return Notification.objects.filter(user=actor, read_at__isnull=True).count()


def notifications_list(actor, *, limit: int = LIST_LIMIT) -> list[Notification]:
    return list(Notification.objects.filter(user=actor).order_by("-created_at", "-id")[:limit])


def is_following(actor, node) -> bool:
    return Follow.objects.filter(user=actor, node=node).exists()


def webhook_event_choices() -> list[tuple[str, str]]:
    """Event types a webhook may subscribe to: every audit action."""
    return sorted({(a.value, a.value) for a in Action} | {(NODE_SHARED, NODE_SHARED)})


def webhooks_list() -> QuerySet[Webhook]:
    """For administrators (the view checks)."""
    return Webhook.objects.select_related("created_by").order_by("id")


def deliveries_recent(*, limit: int = 30) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.select_related("webhook").order_by("-id")[:limit]
