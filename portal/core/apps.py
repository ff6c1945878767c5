from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "portal.core"
    label = "core"

    def ready(self):
        from portal.core import ids  # noqa: F401  registers the <id:...> path converter before any URLconf loads
        from portal.core import lookups  # noqa: F401  registers field__any before any query
