"""The one way to write the audit log. Services call ``record`` inside their
own transaction, so an action and its event commit or roll back together.

Reads (a download, a page view) change nothing to roll back with, so their
events take a cheaper path, ``record_read``: one INSERT that is its own
transaction, committed before it returns. ``record`` takes that path by
itself for the actions in ``READ_ACTIONS``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection, models
from django.db.models.signals import post_save

from portal.audit import context
from portal.audit.signals import events_recorded
from portal.audit.actions import Action
from portal.audit.models import AuditEvent, Outcome
from portal.core.bulk import rows_create

# Actions that change no state: ``record`` writes them with ``record_read``.
READ_ACTIONS = frozenset({Action.FILE_DOWNLOADED, Action.FILE_ZIP_DOWNLOADED, Action.FILE_VIEWED})

# The columns an event is written with (seq, hashes and sealed_at are the
# sealer's; the hashes start blank, the rest NULL).
_INSERT_FIELDS = [AuditEvent._meta.get_field(name) for name in (
    "created_at", "actor", "actor_label", "action", "outcome", "target_type", "target_id", "target_label", "space",
    "ip", "user_agent", "details", "prev_hash", "chain_hash")]
# One statement, so one round trip and no BEGIN/COMMIT: the CTE sets
# synchronous_commit for this statement's own (implicit) transaction, which
# is what its commit then obeys.
_INSERT_ALONE = (
    "WITH commit_mode AS (SELECT set_config('synchronous_commit', %s, true)) "
    f"INSERT INTO {AuditEvent._meta.db_table} ({', '.join(f.column for f in _INSERT_FIELDS)}) "
    f"SELECT {', '.join(['%s'] * len(_INSERT_FIELDS))} FROM commit_mode RETURNING id")


def _target_fields(target: models.Model | None, label: str | None) -> dict[str, str]:
    if target is None:
        return {"target_type": "", "target_id": "", "target_label": label or ""}
    return {
        "target_type": target._meta.model_name,
        "target_id": str(target.pk),
        "target_label": (label if label is not None else str(target))[:512],
    }


def _event(*, action: str, actor, target, target_label, space, outcome, details, actor_label) -> AuditEvent:
    """The unsaved event, with the request's address and user agent."""
    ctx = context.current()
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    return AuditEvent(
        action=action,
        actor=actor,
        actor_label=actor_label if actor_label is not None else (actor.get_username() if actor else ctx.system_label),
        space=space,
        outcome=outcome,
        ip=ctx.ip,
        user_agent=ctx.user_agent,
        details=details or {},
        **_target_fields(target, target_label),
    )


def record(*, action: str, actor=None, target: models.Model | None = None, target_label: str | None = None,
           space=None, outcome: str = Outcome.SUCCESS, details: dict[str, Any] | None = None,
           actor_label: str | None = None) -> AuditEvent:
    """Append one event in the caller's transaction. ``actor`` is a user or
    None for the system. Actions in READ_ACTIONS go through ``record_read``."""
    fields = {"action": action, "actor": actor, "target": target, "target_label": target_label, "space": space,
              "outcome": outcome, "details": details, "actor_label": actor_label}
    if action in READ_ACTIONS:
        return record_read(**fields)
    event = _event(**fields)
    event.save(force_insert=True)
    return event


def record_many(events: list[dict[str, Any]]) -> list[AuditEvent]:
    """Append many events in the caller's transaction, in one statement; each
    dict holds ``record``'s arguments. Receivers hear of them once, through
    ``portal.audit.signals.events_recorded``. Not for READ_ACTIONS."""
    built = []
    for fields in events:
        fields = {"outcome": Outcome.SUCCESS, "target": None, "target_label": None, "space": None, "details": None,
                  "actor": None, "actor_label": None, **fields}
        if fields["action"] in READ_ACTIONS:
            raise ValueError(f"{fields['action']} is a read: record it with record_read")
        built.append(_event(**fields))
    if built:
        rows_create(built)
        events_recorded.send(sender=AuditEvent, events=built)
    return built


def record_read(*, action: str, actor=None, target: models.Model | None = None, target_label: str | None = None,
                space=None, outcome: str = Outcome.SUCCESS, details: dict[str, Any] | None = None,
                actor_label: str | None = None) -> AuditEvent:
    """Append the event of an action that changed nothing (a download, a
    share page view or download); same arguments as ``record``. Any caller.

    Guarantee: the event is committed before this returns, so once the
    caller answers, no crash or SIGKILL of the portal can lose it. On
    PostgreSQL the commit does not wait for the WAL flush (unless
    PORTAL_AUDIT_DURABLE_READS=1): a crash of the *database server* may lose
    the events of its last ~0.6 s (3 x wal_writer_delay), never half of one.

    How: when the connection has no transaction under way (autocommit, or an
    atomic block that has sent nothing yet), the event is one INSERT that is
    its own transaction: one round trip. It then does not roll back with the
    caller's atomic block; a read that started is recorded even if the
    caller fails afterwards. Inside a transaction that already sent
    something (or a test case's), it joins it like ``record``, and that
    transaction commits without waiting for the flush too.
    """
    event = _event(action=action, actor=actor, target=target, target_label=target_label, space=space,
                   outcome=outcome, details=details, actor_label=actor_label)
    if _can_commit_alone():
        _insert_alone(event)
        # save() was bypassed: its receivers (notifications, webhooks) hear of the event as from save().
        post_save.send(sender=AuditEvent, instance=event, created=True, update_fields=None, raw=False,
                       using=connection.alias)
    else:
        _commit_without_flush()
        event.save(force_insert=True)
    return event


def _can_commit_alone() -> bool:
    if connection.vendor != "postgresql":
        return False
    if not connection.in_atomic_block:
        return True
    # Like Django's durable blocks: a test case's wrapping transaction counts
    # as under way, so its rollback still undoes every event.
    if any(block._from_testcase for block in connection.atomic_blocks):
        return False
    from psycopg.pq import TransactionStatus

    return connection.connection.info.transaction_status == TransactionStatus.IDLE


def _insert_alone(event: AuditEvent) -> None:
    """INSERT ``event`` as its own transaction. Inside an atomic block that
    has sent nothing, the driver would open the transaction with BEGIN before
    the INSERT; switching it to autocommit for this one statement leaves
    Django's block as it was (still nothing to commit or roll back)."""
    driver = connection.connection
    switch = connection.in_atomic_block
    values = [field.get_db_prep_save(getattr(event, field.attname), connection) for field in _INSERT_FIELDS]
    if switch:
        driver.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(_INSERT_ALONE, ["on" if settings.AUDIT_DURABLE_READS else "off", *values])
            event.pk = cursor.fetchone()[0]
    finally:
        if switch and not driver.closed:
            driver.autocommit = False
    event._state.adding = False
    event._state.db = connection.alias


def _commit_without_flush() -> None:
    """In the caller's transaction: commit it without waiting for the WAL flush."""
    if settings.AUDIT_DURABLE_READS or connection.vendor != "postgresql" or not connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
