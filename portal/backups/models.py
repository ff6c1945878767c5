"""Devices, their credentials, the pack index, snapshots and retention.

Backups are private to their user: each user has an own key set, and every
pack and chunk row carries its owner, so deduplication (and anything a
device may ask about chunks) is a filter on the owner. A chunk row belongs to
the pack of its owner that first registered it, not to a device.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.db.models.functions import Coalesce
from django.utils import timezone

PACK_PREFIX = "backups/packs/"


def pack_key(pack_id: str) -> str:
    return f"{PACK_PREFIX}{pack_id[:2]}/{pack_id}"


class BackupKeySet(models.Model):
    """A user's backup keys, each wrapped under the master key (see keys.py).
    ``deployment_wide``: the one set every device shared before key sets were
    per user, kept only to read the snapshots made with it."""

    key_id = models.CharField(max_length=32, unique=True)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="backup_key_set")
    deployment_wide = models.BooleanField(default=False)
    id_key_wrapped = models.TextField()
    data_key_wrapped = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"backup key set {self.key_id}"


class DeviceState(models.TextChoices):
    ACTIVE = "active", _("Active")
    REVOKED = "revoked", _("Revoked")


class Device(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="devices")
    name = models.CharField(max_length=100)
    hostname = models.CharField(max_length=255, blank=True)
    platform = models.CharField(max_length=255, blank=True)
    selector = models.CharField(max_length=32, unique=True)
    verifier_hash = models.CharField(max_length=64)
    excludes = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    last_backup_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # The key set this device was last given (its user's current one, unless it must still rekey).
    key_set = models.ForeignKey(BackupKeySet, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("device")
        verbose_name_plural = _("devices")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.user.get_username()})"

    @property
    def state(self) -> str:
        return DeviceState.REVOKED if self.revoked_at else DeviceState.ACTIVE


class DeviceActivity(models.TextChoices):
    """What a device is doing, as far as the portal can tell (selectors.device_activity)."""

    REVOKED = "revoked"
    BACKING_UP = "backing_up"   # uploading packs for a snapshot not committed yet, heard from recently
    FAILED = "failed"           # its last run reported an error since its last snapshot
    IDLE = "idle"               # between backups: the last one is done
    NEW = "new"                 # enrolled, no snapshot yet


class EnrollmentToken(models.Model):
    """A one-time, short-lived credential that turns into a device."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="enrollment_tokens")
    name = models.CharField(max_length=100, blank=True)
    selector = models.CharField(max_length=32, unique=True)
    verifier_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    device = models.OneToOneField(Device, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"enrollment token {self.selector} ({self.user.get_username()})"


class Pack(models.Model):
    """An object of concatenated blobs. ``size`` is what the device said it
    would upload; ``indexed_at`` is set once its chunks are registered.
    ``claimed_at``: last time a device was told one of its chunks is known
    (GC leaves such packs alone for the grace period, as the device may be
    about to commit a snapshot that uses them). ``checked_at``: when every
    blob was found to open and match its id (off the request, see
    services/packs.py); until then only the device that wrote it relies on it.
    A pack that failed keeps ``checked_at`` and no index rows."""

    pack_id = models.CharField(max_length=32, unique=True)
    device = models.ForeignKey(Device, null=True, blank=True, on_delete=models.SET_NULL, related_name="packs")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    key_set = models.ForeignKey(BackupKeySet, on_delete=models.RESTRICT, related_name="packs")
    size = models.BigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)
    indexed_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("pack")
        verbose_name_plural = _("packs")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"pack {self.pack_id}"

    @property
    def key(self) -> str:
        return pack_key(self.pack_id)


class ChunkKind(models.TextChoices):
    DATA = "data"
    TREE = "tree"


class Chunk(models.Model):
    """Where a chunk's blob is: the first registration of an id wins. Ids are
    keyed with the owner's key set, so two users never share one (the portal
    checks every blob against its pack's key set); ``owner`` is the pack's,
    and every question a device asks about chunks filters on it."""

    id = models.CharField(max_length=64, primary_key=True)
    pack = models.ForeignKey(Pack, on_delete=models.CASCADE, related_name="chunks")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    offset = models.BigIntegerField()
    length = models.IntegerField()
    raw_length = models.BigIntegerField()
    kind = models.CharField(max_length=8, choices=ChunkKind.choices)

    def __str__(self) -> str:
        return f"{self.kind} chunk {self.id[:12]}"


class Snapshot(models.Model):
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="snapshots")
    root = models.CharField(max_length=64)
    # The keys its trees and chunks are sealed with (the root tree's pack's).
    key_set = models.ForeignKey(BackupKeySet, on_delete=models.RESTRICT, related_name="snapshots")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    paths = models.JSONField(default=list)
    hostname = models.CharField(max_length=255, blank=True)
    files = models.BigIntegerField(default=0)
    dirs = models.BigIntegerField(default=0)
    bytes = models.BigIntegerField(default=0)
    added_bytes = models.BigIntegerField(default=0)
    skipped = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("snapshot")
        verbose_name_plural = _("snapshots")
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["device", "-started_at"])]

    def __str__(self) -> str:
        return f"snapshot {self.pk} of {self.device.name} at {self.started_at:%Y-%m-%d %H:%M}"


class RetentionPolicy(models.Model):
    """What retention keeps; ``device`` None is the deployment default."""

    device = models.OneToOneField(Device, null=True, blank=True, on_delete=models.CASCADE, related_name="retention")
    keep_last = models.PositiveIntegerField(default=0)
    keep_hourly = models.PositiveIntegerField(default=0)
    keep_daily = models.PositiveIntegerField(default=0)
    keep_weekly = models.PositiveIntegerField(default=0)
    keep_monthly = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    FIELDS = ("keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly")

    class Meta:
        verbose_name = _("retention policy")
        verbose_name_plural = _("retention policies")
        # One default row (device null) as well as one per device.
        constraints = [models.UniqueConstraint(Coalesce("device", models.Value(0)), name="backup_retention_one_per_scope")]

    def __str__(self) -> str:
        return f"retention of {self.device or 'the deployment'}"

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.FIELDS}
