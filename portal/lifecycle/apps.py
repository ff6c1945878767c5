from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LifecycleConfig(AppConfig):
    """Storage tiers, cold packing of small blobs, container compaction and restores."""
    name = "portal.lifecycle"
    label = "lifecycle"
    verbose_name = _("Storage lifecycle")
    default_auto_field = "django.db.models.BigAutoField"
