from django.apps import AppConfig


class PreviewsConfig(AppConfig):
    """Derived files of a version: thumbnails and PDF renditions, made once
    per version by Celery tasks and kept in the derived-files storage."""

    name = "portal.previews"
    label = "previews"
