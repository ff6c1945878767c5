from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "portal.accounts"
    verbose_name = _("Accounts")
    label = "accounts"

    def ready(self):
        from portal.accounts import signin  # noqa: F401  (connects sign-in audit receivers)
