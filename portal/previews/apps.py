from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PreviewsConfig(AppConfig):
    """Derived files of a version: thumbnails and PDF renditions, made once
    per version by Celery tasks and kept in the derived-files storage."""

    name = "portal.previews"
    verbose_name = _("Previews")
    label = "previews"

    def ready(self) -> None:
        from django.db.models.signals import post_delete

        from portal.previews.models import DerivedFile

        post_delete.connect(_forget_stored_file, sender=DerivedFile, dispatch_uid="portal.previews.forget_file")


def _forget_stored_file(*, instance, **kwargs) -> None:
    """A derived file's bytes go once its row is gone (its version was
    deleted or pruned), after the deletion commits."""
    if not instance.name:
        return
    from django.db import transaction

    from portal.storage.derived import derived_storage

    name = instance.name
    transaction.on_commit(lambda: derived_storage().delete(name))
