from celery import shared_task
from django.core.cache import cache
from django.db import transaction


@shared_task(name="core.ping")
def ping(reply_key: str | None = None) -> str:
    """Answers "pong" (also into the cache under ``reply_key``): proves a worker is consuming the queue."""
    if reply_key:
        cache.set(reply_key, "pong", 300)
    return "pong"


FAN_OUT_CHUNK = 500


def fan_out(task_name: str, ids: list) -> None:
    """Queue ``task_name(id)`` for each of ``ids`` through the outbox, in the
    caller's transaction, as one message per chunk: a worker sends the single
    tasks (each keeps its own retries and runs on any worker). For callers
    that make hundreds of rows at once."""
    from portal.outbox.services import enqueue

    ids = list(ids)
    for start in range(0, len(ids), FAN_OUT_CHUNK):
        chunk = ids[start:start + FAN_OUT_CHUNK]
        if len(chunk) == 1:
            enqueue(task_name, chunk[0])
        elif chunk:
            enqueue("core.spread", task_name, chunk)


@shared_task(name="core.spread")
def spread(task_name: str, ids: list) -> int:
    """The worker's half of fan_out: one outbox row and one message per id
    (written together, published over one connection)."""
    from portal.outbox.services import enqueue_many

    with transaction.atomic():
        enqueue_many(task_name, [(item,) for item in ids])
    return len(ids)
