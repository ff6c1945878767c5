from celery import shared_task

from portal.collab import services


@shared_task(name="collab.sweep")
def sweep() -> dict:
    """Every minute: participants of dead servers leave, empty sessions close, long sessions get a version."""
    return services.sweep()


@shared_task(name="collab.wopi_tokens_expire")
def wopi_tokens_expire() -> int:
    """Hourly: office editor access tokens past their expiry go (they stopped working then)."""
    from portal.collab.wopi.tokens import wopi_tokens_expire as expire

    return expire()
