from celery import shared_task

from portal.shares import services


@shared_task(name="shares.expire")
def expire_links() -> int:
    """Record ``share.expired`` for links whose expiry passed (safe to run twice)."""
    return services.shares_expire()


@shared_task(name="shares.mail_link")
def mail_link(link_id: int, emails: list[str], language: str = "") -> int:
    """E-mail a named-people link to these recipients (queued on commit by the services)."""
    from portal.shares.mailing import mail_link as send

    return send(link_id, emails, language)
