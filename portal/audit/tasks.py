"""Celery tasks of the audit log: safe to run twice, or at the same time."""

from dataclasses import asdict

from celery import shared_task

from portal.audit import chain, retention


@shared_task(name="audit.seal")
def seal() -> dict:
    """Beat, every PORTAL_AUDIT_SEAL_SECONDS: seal new events, keep and export heads."""
    return asdict(chain.chain_maintain())


@shared_task(name="audit.purge_expired")
def purge_expired() -> dict | None:
    purge = retention.events_purge_expired()
    return asdict(purge) if purge else None


@shared_task(name="audit.export")
def export(export_id: int) -> dict:
    """Write a large admin export to the object store (see exports.py)."""
    from portal.audit import exports

    try:
        done = exports.audit_export_run(export_id=export_id)
    except Exception as exc:  # the top of a task: the admin shows why it failed
        exports.audit_export_fail(export_id=export_id, error=f"{type(exc).__name__}: {exc}")
        raise
    return {"export": done.pk, "rows": done.rows, "key": done.key}
