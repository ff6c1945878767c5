"""Beat tasks of the outbox: the relay and the sweep of unfinished versions (both safe to run twice)."""

from celery import shared_task

from portal.outbox import services, sweep


@shared_task(name="outbox.relay")
def relay() -> int:
    return services.relay()


@shared_task(name="outbox.sweep")
def sweep_unfinished() -> dict:
    return sweep.versions_requeue()
