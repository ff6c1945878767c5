from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FilesConfig(AppConfig):
    name = "portal.files"
    verbose_name = _("Files")
    label = "files"

    def ready(self):
        from portal.files import history

        history.connect()
