from celery import current_app, shared_task
from django.core.cache import cache


@shared_task(name="core.ping")
def ping(reply_key: str | None = None) -> str:
    """Answers "pong" (also into the cache under ``reply_key``): proves a worker is consuming the queue."""
    if reply_key:
        cache.set(reply_key, "pong", 300)
    return "pong"


FAN_OUT_CHUNK = 500


def fan_out(task_name: str, ids: list) -> None:
    """Queue ``task_name(id)`` for each of ``ids`` with one message from the
    caller: a worker sends the single tasks (each keeps its own retries and
    runs on any worker). For callers that make hundreds of rows at once."""
    ids = list(ids)
    for start in range(0, len(ids), FAN_OUT_CHUNK):
        chunk = ids[start:start + FAN_OUT_CHUNK]
        if len(chunk) == 1:
            current_app.tasks[task_name].delay(chunk[0])
        elif chunk:
            spread.delay(task_name, chunk)


@shared_task(name="core.spread")
def spread(task_name: str, ids: list) -> int:
    """The worker's half of fan_out: one message per id."""
    task = current_app.tasks[task_name]
    with current_app.producer_or_acquire() as producer:
        for item in ids:
            task.apply_async((item,), producer=producer)
    return len(ids)
