"""Celery tasks of notifications and webhooks. Each takes primary keys and is
safe to run twice (a notification is once per (user, key); a delivery is
claimed before it is sent, and its attempts are counted in the row)."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.notify import dispatch, emails, hooks, services, webhooks
from portal.notify.models import DeliveryStatus, EmailMode, EmailPreference, Kind, Notification, WebhookDelivery

logger = logging.getLogger(__name__)


@shared_task(name="notify.event_dispatch")
def event_dispatch(event_id: int) -> None:
    """The notifications and webhook deliveries one audit event causes."""
    event = AuditEvent.objects.filter(pk=event_id).first()
    if event is None:
        return
    with transaction.atomic():
        dispatch.notifications_for(event)
        services.deliveries_create(event=event)


# --- E-mail ----------------------------------------------------------------------

@shared_task(name="notify.send_email")
def send_email(notification_id: int) -> None:
    """Mail one notification whose e-mail mode is "at once" (once: the row is marked first)."""
    with transaction.atomic():
        note = (Notification.objects.select_for_update(of=("self",)).select_related("user")
                .filter(pk=notification_id, email_mode=EmailMode.IMMEDIATE, emailed_at__isnull=True).first())
        if note is None or not note.user.is_active or not note.user.email:
            return
        note.emailed_at = timezone.now()
        note.save(update_fields=["emailed_at"])
    emails.send_one(note)


def _digest_due(user, now) -> bool:
    local = timezone.localtime(now, emails.zone_of(user))
    return local.hour >= settings.DIGEST_HOUR


@shared_task(name="notify.send_digests")
def send_digests(now=None) -> int:
    """Once a day per user, from DIGEST_HOUR in their time zone: one e-mail of
    the notifications waiting for the digest. Returns how many were sent."""
    now = now or timezone.now()
    User = get_user_model()
    waiting = Notification.objects.filter(email_mode=EmailMode.DIGEST, emailed_at__isnull=True)
    sent = 0
    for user in User.objects.filter(pk__in=waiting.values("user_id"), is_active=True).exclude(email=""):
        if _digest_due(user, now) and _send_digest_of(user, now):
            sent += 1
    return sent


def _send_digest_of(user, now) -> bool:
    with transaction.atomic():
        pref, _ = EmailPreference.objects.select_for_update().get_or_create(user=user)
        if pref.last_digest_at and now - pref.last_digest_at < timedelta(hours=20):
            return False
        notes = list(Notification.objects.select_for_update().filter(
            user=user, email_mode=EmailMode.DIGEST, emailed_at__isnull=True).order_by("created_at", "id")[:200])
        if not notes:
            return False
        Notification.objects.filter(pk__in=[n.pk for n in notes]).update(emailed_at=now)
        pref.last_digest_at = now
        pref.save(update_fields=["last_digest_at"])
    return emails.send_digest(user, notes)


# --- Devices that stopped backing up ------------------------------------------

@shared_task(name="notify.stale_backups")
def stale_backups(now=None) -> int:
    """Owners of devices with no backup for BACKUP_STALE_DAYS hear once per
    stale period (a new backup starts a new one). Returns how many were told."""
    from portal.backups.models import Device

    now = now or timezone.now()
    days = settings.BACKUP_STALE_DAYS
    line = now - timedelta(days=days)
    devices = (Device.objects.select_related("user").filter(revoked_at__isnull=True, user__is_active=True)
               .filter(Q(last_backup_at__lt=line) | Q(last_backup_at__isnull=True, created_at__lt=line)))
    told = 0
    for device in devices:
        since = device.last_backup_at.isoformat() if device.last_backup_at else "never"
        note = dispatch.notify(device.user, kind=Kind.BACKUP_STALE, key=f"backup_stale:{device.pk}:{since}",
                               params={"device": device.name, "days": days}, url=f"/devices/{device.pk}/")
        told += note is not None
    return told


# --- Webhook deliveries ------------------------------------------------------

def _claim(delivery_id: int):
    """The delivery, its attempt counted, if it is due; None otherwise."""
    with transaction.atomic():
        delivery = (WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
                    .select_related("webhook", "event").filter(pk=delivery_id, status=DeliveryStatus.PENDING)
                    # A paused webhook's events wait (the retry sweep sends them once it resumes); pings go.
                    .filter(Q(webhook__active=True) | Q(event__isnull=True)).first())
        if delivery is None or delivery.next_attempt_at > timezone.now():
            return None
        delivery.attempts += 1
        # Until this attempt reports, a concurrent run (a retry sweep) leaves it alone.
        delivery.next_attempt_at = timezone.now() + timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS * 3)
        delivery.save(update_fields=["attempts", "next_attempt_at"])
        return delivery


def _backoff(attempts: int) -> float:
    return settings.WEBHOOK_RETRY_SECONDS * 2 ** (attempts - 1)


@shared_task(name="notify.deliver")
def deliver(delivery_id: int) -> str | None:
    """One attempt to post a delivery; a failure is retried with exponential
    back-off until WEBHOOK_MAX_ATTEMPTS, then the delivery is given up."""
    delivery = _claim(delivery_id)
    if delivery is None:
        return None
    hook = delivery.webhook
    result = webhooks.post(url=hook.url, secret=webhooks.unseal(hook.sealed_secret), delivery_id=delivery.pk,
                           action=delivery.action, body=webhooks.event_body(delivery.event, delivery.action))
    now = timezone.now()
    delivery.response_code, delivery.last_error = result.code, result.error
    delivery.log = [*delivery.log, {"at": now.isoformat(), "code": result.code, "error": result.error}][-20:]
    if result.ok:
        delivery.status, delivery.delivered_at = DeliveryStatus.DELIVERED, now
    elif delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        delivery.status = DeliveryStatus.FAILED
    else:
        delivery.next_attempt_at = now + timedelta(seconds=_backoff(delivery.attempts))
    delivery.save(update_fields=["response_code", "last_error", "log", "status", "delivered_at", "next_attempt_at"])
    logger.info("webhook %s delivery %s attempt %s: %s", hook.pk, delivery.pk, delivery.attempts,
                result.code or result.error)
    if delivery.status == DeliveryStatus.PENDING:
        hooks.queue_delivery(delivery.pk, countdown=_backoff(delivery.attempts))
    return delivery.status


@shared_task(name="notify.retry_deliveries")
def retry_deliveries() -> int:
    """Re-queue pending deliveries whose time has come (a queued retry may be lost with a worker)."""
    due = list(WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=timezone.now())
               .values_list("pk", flat=True)[:500])
    for delivery_id in due:
        deliver.delay(delivery_id)
    return len(due)
