from django.apps import AppConfig


class DavConfig(AppConfig):
    name = "portal.dav"
    label = "dav"
    verbose_name = "WebDAV"
