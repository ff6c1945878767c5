"""The one way to write the audit log. Services call ``record`` inside their
own transaction, so an action and its event commit or roll back together."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection, models

from portal.audit import context
from portal.audit.actions import Action
from portal.audit.models import AuditEvent, Outcome

# Events whose transaction writes nothing but the event (a download changes no
# state). On PostgreSQL they commit without waiting for the WAL flush, which
# is most of what auditing a download costs; a database *server* crash may
# lose the last ~0.6 s of them, never half of one. PORTAL_AUDIT_DURABLE_READS=1
# makes them wait like every other event.
ASYNC_COMMIT_ACTIONS = frozenset({Action.FILE_DOWNLOADED, Action.FILE_ZIP_DOWNLOADED})


def _target_fields(target: models.Model | None, label: str | None) -> dict[str, str]:
    if target is None:
        return {"target_type": "", "target_id": "", "target_label": label or ""}
    return {
        "target_type": target._meta.model_name,
        "target_id": str(target.pk),
        "target_label": (label if label is not None else str(target))[:512],
    }


def record(*, action: str, actor=None, target: models.Model | None = None, target_label: str | None = None,
           space=None, outcome: str = Outcome.SUCCESS, details: dict[str, Any] | None = None,
           actor_label: str | None = None) -> AuditEvent:
    """Append one event. ``actor`` is a user or None for the system."""
    if action in ASYNC_COMMIT_ACTIONS:
        _commit_without_flush()
    ctx = context.current()
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    return AuditEvent.objects.create(
        action=action,
        actor=actor,
        actor_label=actor_label if actor_label is not None else (actor.get_username() if actor else ""),
        space=space,
        outcome=outcome,
        ip=ctx.ip,
        user_agent=ctx.user_agent,
        details=details or {},
        **_target_fields(target, target_label),
    )


def _commit_without_flush() -> None:
    if settings.AUDIT_DURABLE_READS or connection.vendor != "postgresql" or not connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
