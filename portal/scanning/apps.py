from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ScanningConfig(AppConfig):
    name = "portal.scanning"
    verbose_name = _("Content scanning")
    label = "scanning"
    default_auto_field = "django.db.models.BigAutoField"
