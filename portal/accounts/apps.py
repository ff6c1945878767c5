from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "portal.accounts"
    label = "accounts"

    def ready(self):
        from portal.accounts import signin  # noqa: F401  (connects sign-in audit receivers)
