"""Celery tasks for locks: safe to run twice."""

from celery import shared_task

from portal.locks import services


@shared_task(name="locks.expire")
def expire() -> int:
    """Tidy away locks whose time is up (they stopped applying at their expiry already)."""
    return services.locks_expire()
