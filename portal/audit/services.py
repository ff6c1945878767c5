"""The one way to write the audit log. Services call ``record`` inside their
own transaction, so an action and its event commit or roll back together."""

from __future__ import annotations

from typing import Any

from django.db import models

from portal.audit import context
from portal.audit.models import AuditEvent, Outcome


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
