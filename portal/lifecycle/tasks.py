"""Celery tasks of the storage lifecycle; each takes primary keys and is safe to run twice."""

from __future__ import annotations

from celery import shared_task

from portal.lifecycle import restores, runs, sweeps


@shared_task(name="lifecycle.tier")
def tier() -> dict:
    """Apply the tiering policies: the report (blobs, bytes, containers) is the maintenance page's detail."""
    return runs.tiering_run().as_dict()


@shared_task(name="lifecycle.compact")
def compact() -> dict:
    report = runs.containers_compact()
    report["orphans"] = sweeps.tier_orphans_delete()
    return report


@shared_task(name="lifecycle.sweep")
def sweep() -> dict:
    return {"deleted": sweeps.superseded_delete(), "abandoned": sweeps.abandoned_containers_delete(),
            **restores.restores_finish()}


@shared_task(name="lifecycle.promote")
def promote(blob_id: int) -> int:
    return runs.blob_promote(blob_id=blob_id)
