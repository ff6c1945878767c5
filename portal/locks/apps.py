from django.apps import AppConfig


class LocksConfig(AppConfig):
    name = "portal.locks"
    label = "locks"
