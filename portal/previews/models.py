"""Derived files of a file version: its thumbnail and its PDF rendition.

One row per (version, kind), made once: the row is claimed in state
``pending`` and a task fills it (``ready`` with the storage name, ``failed``
with the error, or ``unsupported`` when this machine cannot make it). The
bytes live in the derived-files storage (``portal.storage.derived``).
"""

from django.db import models
from django.utils import timezone

from portal.files.models import FileVersion


class DerivedKind(models.TextChoices):
    THUMBNAIL = "thumbnail"
    PDF = "pdf"


class DerivedState(models.TextChoices):
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"
    UNSUPPORTED = "unsupported"   # e.g. no LibreOffice on this machine


class DerivedFile(models.Model):
    version = models.ForeignKey(FileVersion, on_delete=models.CASCADE, related_name="derived_files")
    kind = models.CharField(max_length=12, choices=DerivedKind.choices)
    state = models.CharField(max_length=12, choices=DerivedState.choices, default=DerivedState.PENDING)
    name = models.CharField(max_length=255, blank=True)   # in the derived-files storage
    content_type = models.CharField(max_length=64, blank=True)
    size = models.BigIntegerField(default=0)
    error = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "kind"], name="derived_one_per_version_kind")]

    def __str__(self) -> str:
        return f"{self.kind} of version {self.version_id}: {self.state}"

    @property
    def is_ready(self) -> bool:
        return self.state == DerivedState.READY
