"""Celery tasks of derived files: they take version ids and are safe to run twice."""

from celery import shared_task

from portal.previews import services


@shared_task(name="previews.make_thumbnail")
def make_thumbnail(version_id: int) -> str:
    return services.thumbnail_make(version_id)


@shared_task(name="previews.make_rendition", soft_time_limit=300, time_limit=330)
def make_rendition(version_id: int) -> str:
    # LibreOffice's own limit (PORTAL_OFFICE_TIMEOUT) stops it well before these.
    return services.rendition_make(version_id)
