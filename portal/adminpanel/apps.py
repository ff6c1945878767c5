from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AdminPanelConfig(AppConfig):
    """The admin console: dashboard, maintenance page, bulk-action helpers.
    It reads every app; the audit log itself depends on none of them."""

    name = "portal.adminpanel"
    verbose_name = _("Admin panel")
    label = "adminpanel"

    def ready(self):
        from portal.adminpanel import taskruns

        taskruns.connect()
        _name_vendor_apps()


def _name_vendor_apps() -> None:
    """django-axes and django-otp name their apps (and TOTP devices) only in
    English; the admin lists them in the reader's language. Names only: what
    migrations record (each model's declared Meta) is untouched."""
    from django.apps import apps

    names = {"axes": _("Sign-in throttling"), "otp_totp": _("Authenticator apps")}
    for label, name in names.items():
        if label in apps.app_configs:
            apps.get_app_config(label).verbose_name = name
    if "otp_totp" in apps.app_configs:
        model = apps.get_model("otp_totp", "TOTPDevice")
        model._meta.verbose_name = _("authenticator device")
        model._meta.verbose_name_plural = _("authenticator devices")
