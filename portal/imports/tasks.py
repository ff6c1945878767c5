"""Celery tasks: run an import (safe to run twice) and the beat's tick."""

from __future__ import annotations

import logging

from celery import shared_task

from portal.core.errors import PortalError
from portal.imports import runner, selectors, services

logger = logging.getLogger(__name__)


@shared_task(name="imports.run")
def run_import(run_id: int) -> None:
    runner.run_execute(run_id)


@shared_task(name="imports.tick")
def tick() -> dict:
    """Resume runs whose worker stopped beating (killed, restarted) and start periodic jobs that are due."""
    stalled = selectors.runs_stalled()
    for run_id in stalled:
        run_import.delay(run_id)
    started = []
    for job_id in selectors.jobs_due():
        try:
            started.append(services.import_run_start(actor=None, job_id=job_id).pk)
        except PortalError as refused:  # started by someone a moment ago
            logger.info("periodic import %s not started: %s", job_id, refused.message)
    return {"resumed": stalled, "started": started}
