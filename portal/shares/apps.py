from django.apps import AppConfig


class SharesConfig(AppConfig):
    name = "portal.shares"
    label = "shares"
    default_auto_field = "django.db.models.BigAutoField"
