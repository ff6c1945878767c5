"""The outbox rows of a transaction are written with one INSERT just before it commits.

``enqueue`` registers a ``Pending`` with ``transaction.on_commit``, so Django
already drops it when its savepoint or transaction rolls back. Just before the
COMMIT the pendings still registered are inserted together, inside the
transaction: the rows exist exactly when the change that wanted them does, and
an upload that queues five follow-ups pays one statement, not five. After the
commit Django calls the pendings, and the first one publishes them all.

Django has no pre-commit signal, so ``install`` wraps the connection's
``commit`` (the one method every outermost ``atomic`` and every manual commit
goes through).
"""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper

from portal.outbox.models import OutboxMessage

INSERT_CHUNK = 500  # rows per INSERT: far below SQLite's bound-variable limit


class Batch:
    """The messages one transaction wrote; published once, after its commit."""

    def __init__(self, messages: list[OutboxMessage], using: str, *, written: bool):
        self.messages, self.using, self.written, self.done = messages, using, written, False

    def publish(self) -> None:
        if self.done:
            return
        self.done = True
        from portal.outbox.services import publish_committed

        publish_committed(self.messages, using=self.using, written=self.written)


class Pending:
    """One message waiting for its transaction (an on_commit callback)."""

    __slots__ = ("message", "batch")

    def __init__(self, message: OutboxMessage):
        self.message, self.batch = message, None

    def __call__(self) -> None:
        # No batch: the transaction "committed" without reaching the database
        # (a test's wrapping transaction); publish what there is.
        (self.batch or Batch([self.message], "default", written=False)).publish()


def write_pending(connection) -> None:
    """Insert the messages still registered on ``connection``'s transaction."""
    pendings = [func for _, func, _ in connection.run_on_commit if isinstance(func, Pending) and func.batch is None]
    if not pendings:
        return
    messages = [pending.message for pending in pendings]
    fields = [field for field in OutboxMessage._meta.concrete_fields]
    for start in range(0, len(messages), INSERT_CHUNK):
        # _insert, not bulk_create: bulk_create opens an atomic block, which
        # would commit on its own here, where the outermost block has just ended.
        OutboxMessage._base_manager._insert(messages[start:start + INSERT_CHUNK], fields=fields,
                                            using=connection.alias)
    batch = Batch(messages, connection.alias, written=True)
    for pending in pendings:
        pending.batch = batch


_original_commit = BaseDatabaseWrapper.commit


def _commit_with_outbox(self):
    write_pending(self)
    _original_commit(self)


def install() -> None:
    if BaseDatabaseWrapper.commit is not _commit_with_outbox:
        BaseDatabaseWrapper.commit = _commit_with_outbox
