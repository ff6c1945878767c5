from django.apps import AppConfig


class NotifyConfig(AppConfig):
    """Notifications (the bell, e-mails, digests) and webhooks, driven by audit events."""

    name = "portal.notify"
    label = "notify"

    def ready(self):
        from portal.notify import receivers  # noqa: F401  (audit events queue their dispatch)
