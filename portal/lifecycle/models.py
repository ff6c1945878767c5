"""The storage lifecycle's bookkeeping: containers of packed blobs in cold
tiers, copies waiting out their grace period before deletion, per-space
tiering policies and restore requests for archive tiers.

Where a blob's bytes are is on the blob itself (``files.Blob.tier`` and
friends), so a read needs no join; these rows are what the moves need.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ContainerState(models.TextChoices):
    WRITING = "writing", _("Being written")   # no blob points here yet; a crash leaves it to the sweep
    LIVE = "live", _("Live")
    RETIRED = "retired", _("Retired")         # compacted away: deleted once its grace period is over


class Container(models.Model):
    """One object in a packing tier holding many small blobs back to back,
    followed by a JSON index of them (offset, size, SHA-256) and the index's
    length, so a container can be read without the database."""
    tier = models.CharField(max_length=32)
    key = models.CharField(max_length=300, unique=True)
    size = models.BigIntegerField(default=0)
    data_bytes = models.BigIntegerField(default=0)   # the blobs' bytes, without the index
    blob_count = models.PositiveIntegerField(default=0)
    # Bytes of blobs that still point here; compaction rewrites containers where this drops too low.
    live_bytes = models.BigIntegerField(default=0)
    state = models.CharField(max_length=8, choices=ContainerState.choices, default=ContainerState.WRITING,
                             db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    retired_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.key

    @property
    def live_percent(self) -> int:
        return 100 if not self.data_bytes else round(100 * self.live_bytes / self.data_bytes)


class Superseded(models.Model):
    """A copy of a blob that nothing points at any more since a move: deleted
    from its tier once ``delete_after`` has passed (a download handed its
    URL a moment before the switch can still finish)."""
    tier = models.CharField(max_length=32)
    key = models.CharField(max_length=300)
    delete_after = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tier", "key"], name="superseded_once")]

    def __str__(self) -> str:
        return f"{self.tier}:{self.key}"


class SpaceTierPolicy(models.Model):
    """A space's own tiering policy, replacing the deployment's (settings
    TIER_*). A day count of 0 means never."""
    space = models.OneToOneField("spaces.Space", on_delete=models.CASCADE, related_name="tier_policy")
    tier = models.CharField(max_length=32, blank=True)   # blank: this space's files are never moved
    current_days = models.PositiveIntegerField()
    old_days = models.PositiveIntegerField()
    trash_days = models.PositiveIntegerField()
    promote_on_read = models.BooleanField(default=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"tiering of {self.space}"


class RestoreState(models.TextChoices):
    PENDING = "pending", _("Restoring")
    READY = "ready", _("Ready")


class BlobRestore(models.Model):
    """A blob in a tier that needs a restore before a read (archive classes):
    asked for by a read, ready at ``ready_at``, readable until ``until``."""
    blob = models.OneToOneField("files.Blob", on_delete=models.CASCADE, related_name="restore")
    tier = models.CharField(max_length=32)
    state = models.CharField(max_length=8, choices=RestoreState.choices, default=RestoreState.PENDING)
    requested_at = models.DateTimeField(default=timezone.now)
    ready_at = models.DateTimeField()
    until = models.DateTimeField()

    def __str__(self) -> str:
        return f"restore of {self.blob_id} ({self.state})"


class RestoreWaiter(models.Model):
    """Someone who asked for a file whose restore is under way: told once it is ready."""
    restore = models.ForeignKey(BlobRestore, on_delete=models.CASCADE, related_name="waiters")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    node = models.ForeignKey("files.Node", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["restore", "user", "node"], name="restore_waiter_once")]
