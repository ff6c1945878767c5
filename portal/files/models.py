"""The file tree of a space: folders and files (nodes), file versions, the
stored bytes they point at (blobs), and upload sessions.

Bytes first, then metadata: a version exists only after its blob's object is
complete in the store, and blobs are shared (copies and identical content
point at one object), so bytes are removed only when no version uses them.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.db.models import F
from django.utils import timezone

from portal.spaces.models import Space
from portal.storage.tiers import HOT, Placement


class NodeKind(models.TextChoices):
    FOLDER = "folder", _("Folder")
    FILE = "file", _("File")


class Node(models.Model):
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="nodes")
    # Null only for the space's root folder; every visible node has a parent.
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    kind = models.CharField(max_length=8, choices=NodeKind.choices)
    name = models.CharField(max_length=255, blank=True)
    # casefold(name): Windows and macOS clients cannot hold "A.txt" and "a.txt" side by side.
    name_key = models.CharField(max_length=255, blank=True)
    size = models.BigIntegerField(default=0)
    current_version = models.ForeignKey("FileVersion", null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    modified_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    # Set on the node a user deleted; its descendants go with it untouched.
    trashed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    trashed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["parent", "name_key"], condition=models.Q(trashed_at__isnull=True),
                                    name="node_unique_name_in_folder"),
            models.UniqueConstraint(fields=["space"], condition=models.Q(parent__isnull=True),
                                    name="node_one_root_per_space"),
        ]
        # A folder listing: folders first, then by name, live nodes only.
        indexes = [models.Index(F("parent"), F("kind").desc(), F("name_key"), F("id"),
                                condition=models.Q(trashed_at__isnull=True), name="node_listing_by_name")]

    def __str__(self) -> str:
        return self.name or "/"

    @property
    def is_folder(self) -> bool:
        return self.kind == NodeKind.FOLDER

    @property
    def is_root(self) -> bool:
        return self.parent_id is None


class Integrity(models.TextChoices):
    PENDING = "pending"
    VERIFIED = "verified"
    MISMATCH = "mismatch"


class Blob(models.Model):
    """One object in the store. Identical content is kept once: the hashing
    task points later versions at the first blob with the same SHA-256."""

    key = models.CharField(max_length=200, unique=True)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64, null=True, blank=True)
    expected_sha256 = models.CharField(max_length=64, blank=True)
    integrity = models.CharField(max_length=8, choices=Integrity.choices, default=Integrity.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    # Where the bytes are (portal.lifecycle moves them): the hot store under ``key``, or another tier
    # under ``tier_key``, alone or ``pack_offset`` bytes into a container.
    tier = models.CharField(max_length=32, default=HOT, db_index=True)
    tier_key = models.CharField(max_length=300, blank=True)
    container = models.ForeignKey("lifecycle.Container", null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="blobs")
    pack_offset = models.BigIntegerField(null=True, blank=True)
    # The last download, view or sync of these bytes, to the day (None: none since upload).
    last_read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["sha256"], condition=models.Q(sha256__isnull=False),
                                               name="blob_unique_content")]

    def __str__(self) -> str:
        return self.key

    @property
    def placement(self) -> Placement:
        if self.tier == HOT:
            return Placement(HOT, self.key, self.size)
        return Placement(self.tier, self.tier_key, self.size, self.pack_offset)


class FileVersion(models.Model):
    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="versions")
    size = models.BigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    restored_from = models.PositiveIntegerField(null=True, blank=True)
    # Everyone whose edits a co-editing session wrote into this version (portal.collab); empty otherwise.
    coauthors = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["node", "number"], name="version_unique_number")]

    def __str__(self) -> str:
        return f"{self.node} v{self.number}"


class UploadState(models.TextChoices):
    OPEN = "open"
    COMPLETING = "completing"   # the store was told to assemble the object: never abort it again
    COMPLETED = "completed"
    ABORTED = "aborted"
    EXPIRED = "expired"


class UploadSession(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="uploads")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="uploads")
    path = models.CharField(max_length=4096)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64, blank=True)
    if_match = models.PositiveIntegerField(null=True, blank=True)
    part_size = models.BigIntegerField()
    part_count = models.PositiveIntegerField()
    key = models.CharField(max_length=200, unique=True)
    multipart_id = models.CharField(max_length=1024, blank=True)
    state = models.CharField(max_length=12, choices=UploadState.choices, default=UploadState.OPEN, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    completing_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    version = models.ForeignKey(FileVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # When the store confirmed that an aborted or expired session left nothing behind (its multipart
    # upload aborted, or its assembled object deleted). Null on a closed session: the upload sweep
    # retries until the store answers (an abort during an outage is recorded first, cleaned later).
    store_released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state"], condition=models.Q(store_released_at__isnull=True,
                                                                    state__in=["aborted", "expired"]),
                                name="upload_store_unreleased")]

    def __str__(self) -> str:
        return f"upload {self.id} of {self.path}"

    def part_length(self, number: int) -> int:
        """The exact size part ``number`` must have."""
        if number < self.part_count:
            return self.part_size
        return self.size - self.part_size * (self.part_count - 1)


class NodePlace(models.Model):
    """Where a node was, and whether it was in the trash, until ``changed_at``:
    one row per rename, move, trash or restore, written with the change
    (portal.files.history). A restore to a point in time reads the first row
    after T of each node, or the node itself when none, to know its place at T."""

    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="+")
    changed_at = models.DateTimeField(default=timezone.now)
    # Before the change: the space, parent and name it had, and whether it was itself in the trash.
    space_id_before = models.BigIntegerField()
    parent_id_before = models.BigIntegerField(null=True, blank=True)
    name_before = models.CharField(max_length=255, blank=True)
    trashed_before = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["space_id_before", "changed_at"], name="node_place_space_time"),
                   models.Index(fields=["node", "changed_at"], name="node_place_node_time")]

    def __str__(self) -> str:
        return f"{self.node_id} was {self.name_before!r} in {self.parent_id_before} until {self.changed_at}"


class RestoreState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class PointRestore(models.Model):
    """One apply of a restore to a point in time (portal.files.services.point_in_time):
    what was asked, how far it got, and what it changed."""

    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="+")
    folder = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=8, choices=RestoreState.choices, default=RestoreState.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    error = models.CharField(max_length=500, blank=True)

    def __str__(self) -> str:
        return f"restore of {self.folder_id} to {self.at:%Y-%m-%d %H:%M}"
