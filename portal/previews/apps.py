from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PreviewsConfig(AppConfig):
    """Derived files of a version: thumbnails and PDF renditions, made once
    per version by Celery tasks and kept in the derived-files storage."""

    name = "portal.previews"
    verbose_name = _("Previews")
    label = "previews"
