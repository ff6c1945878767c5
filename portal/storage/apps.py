from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StorageConfig(AppConfig):
    name = "portal.storage"
    label = "storage"
    verbose_name = _("Object storage")

    def ready(self) -> None:
        from django.core.signals import setting_changed

        setting_changed.connect(_forget_store, dispatch_uid="portal.storage.forget_store")


def _forget_store(*, setting: str, **kwargs) -> None:
    # override_settings(STORAGE_ROOT=...) in a test must not reuse the old store.
    if setting.startswith(("STORAGE_", "S3_")):
        from portal.storage import reset_store
        from portal.storage.derived import reset_derived_storage

        reset_store()
        reset_derived_storage()
