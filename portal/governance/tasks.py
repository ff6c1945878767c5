"""Celery tasks for governance: take nothing, safe to run twice."""

from celery import shared_task

from portal.governance import ending


@shared_task(name="governance.apply_retention_end")
def apply_retention_end() -> dict:
    return ending.retention_end_apply()
