from django.apps import AppConfig


class OutboxConfig(AppConfig):
    """The transactional outbox that hands follow-up work to Celery."""

    name = "portal.outbox"
    label = "outbox"

    def ready(self):
        from portal.outbox import commit, signals  # noqa: F401  (flush before COMMIT; delete rows of finished tasks)

        commit.install()
