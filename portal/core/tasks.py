from celery import shared_task
from django.core.cache import cache


@shared_task(name="core.ping")
def ping(reply_key: str | None = None) -> str:
    """Answers "pong" (also into the cache under ``reply_key``): proves a worker is consuming the queue."""
    if reply_key:
        cache.set(reply_key, "pong", 300)
    return "pong"
