from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CollabConfig(AppConfig):
    name = "portal.collab"
    label = "collab"
    verbose_name = _("Co-editing")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from portal.collab import receivers  # noqa: F401  (access changes re-check open connections)
