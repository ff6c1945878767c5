from django.apps import AppConfig


class SpacesConfig(AppConfig):
    name = "portal.spaces"
    label = "spaces"

    def ready(self):
        from portal.spaces import receivers  # noqa: F401  (personal space for every new user)
