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
