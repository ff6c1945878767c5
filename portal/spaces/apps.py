from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SpacesConfig(AppConfig):
    name = "portal.spaces"
    verbose_name = _("Spaces")
    label = "spaces"

    def ready(self):
        from portal.spaces import receivers  # noqa: F401  (personal space for every new user)
