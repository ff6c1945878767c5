from django.apps import AppConfig


class BackupsConfig(AppConfig):
    name = "portal.backups"
    label = "backups"
    verbose_name = "Backups"

    def ready(self) -> None:
        from portal.backups import schema  # noqa: F401 - registers the OpenAPI auth extension
