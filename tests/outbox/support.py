from portal.outbox.commit import Pending


def follow_ups(callbacks, task: str) -> list:
    """The first argument of each ``task`` call a transaction queued through
    the outbox (``callbacks``: what django_capture_on_commit_callbacks caught)."""
    return [pending.message.args[0] for pending in callbacks
            if isinstance(pending, Pending) and pending.message.task == task]
