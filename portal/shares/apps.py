from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SharesConfig(AppConfig):
    name = "portal.shares"
    verbose_name = _("Share links")
    label = "shares"
    default_auto_field = "django.db.models.BigAutoField"
