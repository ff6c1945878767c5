"""Content scanning: one verdict per file version, and a blocklist of
SHA-256 digests administrators keep.

Quarantine follows the verdict's cause. A finding about the *content* (a
virus signature, a blocked digest) is a property of the bytes: it blocks
every version that points at the same blob (copies, restored versions, and
anyone's identical upload), so copying a flagged file does not free it. A
finding about the *name* (a blocked extension) belongs to its version only:
uploading a colleague's report again as ``x.scr`` quarantines ``x.scr``, not
the report. A pending or failed scan holds its own version, and the copies
and restores made from it (which have no verdict of their own).
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.db.models import Q
from django.utils import timezone

from portal.files.models import FileVersion


class ScanState(models.TextChoices):
    PENDING = "pending"     # queued, not scanned yet
    CLEAN = "clean"
    FLAGGED = "flagged"     # quarantined until an administrator releases or deletes it
    RELEASED = "released"   # flagged, then released by an administrator
    DELETED = "deleted"     # flagged, then deleted by an administrator (the version is gone)
    ERROR = "error"         # a scanner could not give an answer; fail_closed decides


class ScanVerdict(models.Model):
    # Null once an administrator deleted the version: the verdict stays for the review history.
    version = models.OneToOneField(FileVersion, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="scan")
    label = models.CharField(max_length=512, blank=True)   # "/path/name v3", kept after deletion
    state = models.CharField(max_length=8, choices=ScanState.choices, default=ScanState.PENDING)
    # Pending and error verdicts block downloads too: share-link uploads always,
    # member uploads when PORTAL_SCAN_FAIL_MODE=closed.
    fail_closed = models.BooleanField(default=False)
    via_share = models.BooleanField(default=False)
    scanner = models.CharField(max_length=32, blank=True)
    signature = models.CharField(max_length=255, blank=True)
    error = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    scanned_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("scan verdict")
        verbose_name_plural = _("scan verdicts")
        indexes = [models.Index(fields=["state"], name="scan_verdict_state",
                                condition=~Q(state="clean"))]

    def __str__(self) -> str:
        return f"{self.label or self.version_id}: {self.state}"

    @property
    def by_content(self) -> bool:
        """A finding about the bytes (it follows them), not about the name."""
        return self.scanner not in NAME_SCANNERS

    @property
    def blocks(self) -> bool:
        return self.state == ScanState.FLAGGED or (
            self.fail_closed and self.state in (ScanState.PENDING, ScanState.ERROR))


# Scanners whose findings are about the name, not the bytes.
NAME_SCANNERS = frozenset({"extension"})

# The states in which a verdict keeps its own version from leaving the portal.
HELD = Q(fail_closed=True, state__in=[ScanState.PENDING, ScanState.ERROR])
BLOCKING = Q(state=ScanState.FLAGGED) | HELD
# Flagged for what the bytes are: blocks every version holding them.
FLAGGED_BY_CONTENT = Q(state=ScanState.FLAGGED) & ~Q(scanner__in=NAME_SCANNERS)


class BlockedHash(models.Model):
    """Content refused by digest (PORTAL_SCAN_SHA256_BLOCKLIST adds more)."""

    sha256 = models.CharField(max_length=64, unique=True)
    note = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        verbose_name = _("blocked hash")
        verbose_name_plural = _("blocked hashes")

    def __str__(self) -> str:
        return self.sha256

    def save(self, *args, **kwargs):
        self.sha256 = self.sha256.strip().lower()
        super().save(*args, **kwargs)
