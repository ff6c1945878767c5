from django.apps import AppConfig


class ImportsConfig(AppConfig):
    """Migration service: import S3 buckets, NAS folders and WebDAV servers into spaces."""

    name = "portal.imports"
    label = "imports"
