"""Co-editing sessions: one Yjs document per file while people edit it together.

A session starts from the file's newest version (its text is the seed, the
first stored update), collects every update a client sent, in order, before
any other client sees it, and ends when the last participant leaves. The
updates since the last written version become the file's next version, with
everyone who made them as its co-authors.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.files.models import FileVersion, Node


class SessionState(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")


class CoeditSession(models.Model):
    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="coedit_sessions")
    base_version = models.ForeignKey(FileVersion, null=True, on_delete=models.SET_NULL, related_name="+")
    state = models.CharField(max_length=6, choices=SessionState.choices, default=SessionState.OPEN)
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    # The last update already written into a file version, and when.
    saved_through = models.BigIntegerField(default=0)
    saved_at = models.DateTimeField(null=True, blank=True)
    # Everyone who joined as an editor (a link's visitors as its owner): who may write the version when
    # its authors no longer may.
    editors = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")

    class Meta:
        verbose_name = _("co-editing session")
        verbose_name_plural = _("co-editing sessions")
        constraints = (models.UniqueConstraint(fields=["node"], condition=Q(state=SessionState.OPEN),
                                               name="coedit_one_open_session_per_file"),)

    def __str__(self) -> str:
        return f"co-editing of {self.node_id} ({self.state})"


class CoeditUpdate(models.Model):
    """One Yjs update, stored before any other client received it."""
    id = models.BigAutoField(primary_key=True)
    session = models.ForeignKey(CoeditSession, on_delete=models.CASCADE, related_name="updates")
    data = models.BinaryField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = (models.Index(fields=["session", "id"], name="coedit_update_session"),)


class CoeditParticipant(models.Model):
    """One open websocket connection to a session, kept alive by its server process's heartbeat."""
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    session = models.ForeignKey(CoeditSession, on_delete=models.CASCADE, related_name="participants")
    process = models.CharField(max_length=100)        # host:pid of the serving process
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="+")
    link = models.ForeignKey("shares.ShareLink", null=True, blank=True, on_delete=models.CASCADE,
                             related_name="+")
    can_edit = models.BooleanField(default=False)
    # Bumped in the transaction of any access change in the space (portal.collab.receivers); the server
    # stores this connection's updates only while checked_epoch (the epoch its last look-up of the right
    # started at) is still the current one.
    access_epoch = models.PositiveIntegerField(default=0)
    checked_epoch = models.PositiveIntegerField(default=0)
    joined_at = models.DateTimeField(default=timezone.now)
    seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = (models.Index(fields=["seen_at"], name="coedit_participant_seen"),)


from portal.collab.wopi.models import *  # noqa
