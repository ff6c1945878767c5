"""Celery task of sensitive-content review: takes an id, safe to run twice."""

from celery import shared_task

from portal.core.errors import StorageUnavailable


@shared_task(name="governance.label_version", max_retries=3, autoretry_for=(StorageUnavailable,), retry_backoff=True)
def label_version(version_id: int) -> str:
    """Run the moderation adapter over a clean version's text and store its labels."""
    from portal.governance.services_sensitive import version_label

    return version_label(version_id)
