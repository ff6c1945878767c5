"""The daily storage total, for the console's "storage over time" chart
(spaces keep only their current ``used_bytes``). Imported by models.py."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class StorageSnapshot(models.Model):
    """The storage of all spaces on one day (in the deployment's time zone),
    written by the ``adminpanel.snapshot_storage`` beat task; the day's last
    run wins."""

    day = models.DateField(_("day"), unique=True)
    used_bytes = models.BigIntegerField(_("used"), default=0)
    quota_bytes = models.BigIntegerField(_("quota"), default=0)
    spaces = models.PositiveIntegerField(_("spaces"), default=0)
    taken_at = models.DateTimeField(_("taken at"))

    class Meta:
        app_label = "adminpanel"
        verbose_name = _("storage snapshot")
        verbose_name_plural = _("storage snapshots")
        ordering = ["day"]

    def __str__(self) -> str:
        return f"{self.day}: {self.used_bytes} bytes"
