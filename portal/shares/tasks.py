from celery import shared_task

from portal.shares import services


@shared_task(name="shares.expire")
def expire_links() -> int:
    """Record ``share.expired`` for links whose expiry passed (safe to run twice)."""
    return services.shares_expire()
