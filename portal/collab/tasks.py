from celery import shared_task

from portal.collab import services


@shared_task(name="collab.sweep")
def sweep() -> dict:
    """Every minute: participants of dead servers leave, empty sessions close, long sessions get a version."""
    return services.sweep()
