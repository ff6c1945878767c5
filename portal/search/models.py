"""The search index (one row per node: its name, path and extracted text as
segmented tokens) and the stars users put on files and folders.

Tokens are stored as text, one space between them (see index.tokens): the
same text feeds PostgreSQL's ``words`` tsvector (a generated column with a
GIN index, made by the migration) and SQLite's FTS5 table ``search_fts``
(kept in step by triggers). The Django model does not name either: they are
the database's business, and queries reach them through query.py.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.files.models import Node
from portal.spaces.models import Space


class FileType(models.TextChoices):
    FOLDER = "folder", _("Folder")
    IMAGE = "image", _("Image")
    DOCUMENT = "document", _("Document")
    PDF = "pdf", _("PDF")
    TEXT = "text", _("Text or code")
    AUDIO = "audio", _("Audio")
    VIDEO = "video", _("Video")
    ARCHIVE = "archive", _("Archive")
    OTHER = "other", _("Other")


class SearchDoc(models.Model):
    node = models.OneToOneField(Node, primary_key=True, on_delete=models.CASCADE, related_name="search_doc")
    # Copied from the node's place so that access and the trash apply without walking the tree.
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="+")
    file_type = models.CharField(max_length=8, choices=FileType.choices, default=FileType.OTHER)
    # What a result row shows and the filters test, copied from the node by the index task (a
    # join with the tree would make the planner read a million nodes for a common word).
    name = models.CharField(max_length=255, blank=True)
    name_key = models.CharField(max_length=255, blank=True)
    kind = models.CharField(max_length=8, blank=True)
    size = models.BigIntegerField(default=0)
    modified_at = models.DateTimeField(default=timezone.now)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")   # who uploaded the current version
    parent_path = models.TextField(blank=True)       # "/a/b": the folder holding the node
    trashed = models.BooleanField(default=False)     # the node or one of its folders is in the trash
    name_words = models.TextField(blank=True)
    path_words = models.TextField(blank=True)
    body_words = models.TextField(blank=True)        # distinct tokens of the extracted text (capped)
    content_version_id = models.BigIntegerField(null=True, blank=True)  # whose text body_words holds
    indexed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "search_doc"
        indexes = [models.Index(fields=["space"], condition=models.Q(trashed=False), name="search_doc_live_space")]

    def __str__(self) -> str:
        return f"index of node {self.node_id}"


class Star(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="stars")
    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="stars")
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "node"], name="star_unique")]
        indexes = [models.Index(fields=["user", "-created"], name="star_by_user")]

    def __str__(self) -> str:
        return f"{self.user} ★ {self.node}"
