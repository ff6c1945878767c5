from django.apps import AppConfig


class AdminPanelConfig(AppConfig):
    """The admin console: dashboard, maintenance page, bulk-action helpers.
    It reads every app; the audit log itself depends on none of them."""

    name = "portal.adminpanel"
    label = "adminpanel"

    def ready(self):
        from portal.adminpanel import taskruns

        taskruns.connect()
