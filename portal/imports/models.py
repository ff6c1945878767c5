"""Import jobs (a source, a target folder, a mode and a schedule), their runs
and each run's files.

A run's progress lives in its items: an item is written ``pending`` when the
source is listed and turns ``copied`` in the very transaction that makes the
file's version (file_put's ``before_commit``), so a worker killed at any
moment leaves every file either done (with its version) or pending, never
both or neither; resuming the run picks up the pending ones.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.files.models import FileVersion
from portal.spaces.models import Space


class SourceKind(models.TextChoices):
    S3 = "s3", _("S3 bucket")
    FOLDER = "folder", _("Local or mounted folder")
    WEBDAV = "webdav", _("WebDAV server")


class Mode(models.TextChoices):
    FULL = "full", _("Full")
    INCREMENTAL = "incremental", _("Incremental (new and changed files)")


class ImportJob(models.Model):
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="import_jobs")
    target = models.CharField(max_length=4096, default="/")  # the folder in the space the source lands in
    name = models.CharField(max_length=200, blank=True)
    source_kind = models.CharField(max_length=8, choices=SourceKind.choices)
    # Non-secret settings: s3 {endpoint, bucket, prefix, region, access_key}; folder {path};
    # webdav {url, username}. The secret (S3 secret key, WebDAV password) is sealed apart.
    source = models.JSONField(default=dict)
    secret_sealed = models.TextField(blank=True)
    mode = models.CharField(max_length=12, choices=Mode.choices, default=Mode.INCREMENTAL)
    every_hours = models.PositiveIntegerField(null=True, blank=True)  # None: runs only when started
    bytes_per_second = models.BigIntegerField(null=True, blank=True)  # None: unlimited
    concurrency = models.PositiveSmallIntegerField(default=4)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.name or f"import {self.pk}"

    @property
    def source_label(self) -> str:
        source = self.source
        if self.source_kind == SourceKind.S3:
            return f"s3://{source.get('bucket', '')}/{source.get('prefix', '')} ({source.get('endpoint') or 'AWS'})"
        if self.source_kind == SourceKind.FOLDER:
            return source.get("path", "")
        return source.get("url", "")


class RunState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    FINISHED = "finished", _("Finished")
    FAILED = "failed", _("Failed")


class ImportRun(models.Model):
    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="runs")
    dry_run = models.BooleanField(default=False)
    state = models.CharField(max_length=8, choices=RunState.choices, default=RunState.QUEUED, db_index=True)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")  # None: the schedule
    listed = models.BooleanField(default=False)  # the source's listing is complete in the items
    attempt = models.PositiveIntegerField(default=0)  # bumped by each worker that takes the run over
    # Counters, refreshed from the items with each heartbeat (the items are the truth).
    files_seen = models.PositiveIntegerField(default=0)
    bytes_seen = models.BigIntegerField(default=0)
    files_copied = models.PositiveIntegerField(default=0)
    bytes_copied = models.BigIntegerField(default=0)
    files_skipped = models.PositiveIntegerField(default=0)
    files_failed = models.PositiveIntegerField(default=0)
    files_pending = models.PositiveIntegerField(default=0)
    bytes_pending = models.BigIntegerField(default=0)
    error = models.TextField(blank=True)  # why the run as a whole failed (source unreachable...)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"run {self.pk} of {self.job}"

    @property
    def done(self) -> bool:
        return self.state in (RunState.FINISHED, RunState.FAILED)


class Outcome(models.TextChoices):
    PENDING = "pending", _("Pending")
    COPIED = "copied", _("Copied")
    SKIPPED = "skipped", _("Unchanged")
    WOULD_COPY = "would-copy", _("Would be copied")
    FAILED = "failed", _("Failed")


class ImportItem(models.Model):
    run = models.ForeignKey(ImportRun, on_delete=models.CASCADE, related_name="items")
    path = models.CharField(max_length=4096)  # relative to the source root, "/"-separated
    size = models.BigIntegerField()
    mtime = models.DateTimeField(null=True, blank=True)
    etag = models.CharField(max_length=200, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.PENDING)
    error = models.TextField(blank=True)
    version = models.ForeignKey(FileVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "path"], name="import_item_unique_path")]
        indexes = [models.Index(fields=["run", "outcome"], name="import_item_by_outcome")]

    def __str__(self) -> str:
        return f"{self.path} ({self.outcome})"
