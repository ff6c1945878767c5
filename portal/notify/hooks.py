"""The link from the audit log to notifications: after an event commits, one
``notify.event_dispatch`` task is queued if anything may want it (a kind of
notification, or a webhook subscribed to its action). ``record`` itself pays
nothing but the on_commit registration.

Which actions webhooks want is cached (Redis, then five seconds in the
process), and forgotten whenever a webhook changes. While Redis is down the
list is read from the database: a cache outage must not fail every change.
"""

from __future__ import annotations

import time

from django.core.cache import cache
from django.db import transaction

from portal.core.outage import OUTAGES
from portal.outbox.services import enqueue

CACHE_KEY = "notify:webhook-actions"
_LOCAL_SECONDS = 5.0
_local: dict = {"at": 0.0, "actions": None}


def webhook_actions() -> frozenset[str]:
    now = time.monotonic()
    if _local["actions"] is not None and now - _local["at"] < _LOCAL_SECONDS:
        return _local["actions"]
    try:
        actions = cache.get(CACHE_KEY)
    except OUTAGES:
        actions = _subscribed_actions()
    if actions is None:
        actions = _subscribed_actions()
        try:
            cache.set(CACHE_KEY, actions, 300)
        except OUTAGES:
            pass  # read from the database again next time
    _local.update(at=now, actions=frozenset(actions))
    return _local["actions"]


def _subscribed_actions() -> list[str]:
    from portal.notify.models import Webhook

    return sorted({code for events in Webhook.objects.filter(active=True).values_list("events", flat=True)
                   for code in events})


def forget_webhook_actions() -> None:
    cache.delete(CACHE_KEY)
    _local.update(at=0.0, actions=None)


def wanted(action: str) -> bool:
    from portal.notify.dispatch import NOTIFYING_ACTIONS

    if action in NOTIFYING_ACTIONS:
        return True
    subscribed = webhook_actions()
    return "*" in subscribed or action in subscribed


def after_commit(event_id: int, action: str) -> None:
    """Queue the dispatch of a committed event, if a webhook wants it."""
    if wanted(action):
        enqueue("notify.event_dispatch", event_id)


def queue_event(event_id: int, action: str) -> None:
    """An event that notifies people is dispatched for sure: queued with it.
    Whether a webhook wants any other is known after the commit (the cache)."""
    from portal.notify.dispatch import NOTIFYING_ACTIONS

    if action in NOTIFYING_ACTIONS:
        enqueue("notify.event_dispatch", event_id)
    else:
        transaction.on_commit(lambda: after_commit(event_id, action))


def queue_events(events: list[tuple[int, str]]) -> None:
    """queue_event for many events: one message for all that anything wants."""
    from portal.core.tasks import fan_out
    from portal.notify.dispatch import NOTIFYING_ACTIONS

    fan_out("notify.event_dispatch", [event_id for event_id, action in events if action in NOTIFYING_ACTIONS])
    others = [(event_id, action) for event_id, action in events if action not in NOTIFYING_ACTIONS]
    if others:
        transaction.on_commit(lambda: fan_out("notify.event_dispatch",
                                              [event_id for event_id, action in others if wanted(action)]))


def queue_delivery(delivery_id: int, countdown: float = 0) -> None:
    enqueue("notify.deliver", delivery_id, countdown=countdown or None)
