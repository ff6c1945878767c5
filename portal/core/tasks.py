from celery import shared_task


@shared_task(name="core.ping")
def ping() -> str:
    """Answers "pong": proves a worker is consuming the queue."""
    return "pong"
