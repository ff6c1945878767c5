"""Keeping the index in step with the tree.

A change to a node (new, renamed, moved, restored, a new version) queues
``tasks.index_node`` once the transaction commits: the request pays no
query for the index. Moving something to the trash, or to another space,
updates its whole subtree's rows in the same transaction, in one statement,
so a search never finds what was just deleted or moved out of reach. A new current version, or a clean scan verdict, queues the
text extraction (``tasks.index_version``); a quarantining verdict drops the
text at once."""

from __future__ import annotations

from django.db.models.signals import post_save
from django.dispatch import receiver

from portal.files.models import FileVersion, Node
from portal.previews.signals import rendition_ready
from portal.scanning.models import ScanVerdict
from portal.search import index
from portal.outbox.services import enqueue

SHOWN_FIELDS = frozenset({"name", "name_key", "parent", "space", "trashed_at", "size", "modified_at",
                          "current_version"})


@receiver(post_save, sender=Node, dispatch_uid="search_index_node")
def _node_saved(sender, instance: Node, created: bool, raw: bool = False, update_fields=None, **kwargs):
    if raw or instance.parent_id is None:
        return
    fields = frozenset(update_fields) if update_fields is not None else None
    if instance.trashed_at is not None and (fields is None or "trashed_at" in fields):
        index.set_trashed(instance.pk)
        return
    if not created and fields is not None and "space" in fields:
        index.set_space(instance.pk, instance.space_id)
    if created or fields is None or fields & SHOWN_FIELDS:
        from portal.search.tasks import index_node

        enqueue(index_node, instance.pk)
    if instance.current_version_id and (fields is None or "current_version" in fields):
        _queue_text(instance.current_version_id)


@receiver(post_save, sender=ScanVerdict, dispatch_uid="search_index_clean_version")
def _verdict_saved(sender, instance: ScanVerdict, raw: bool = False, **kwargs):
    """A verdict that blocks drops the text of every version it blocks, in the
    same transaction (quarantined content is never found); a clean or
    released one queues the text of the versions it frees."""
    if raw or not instance.version_id:
        return
    if instance.blocks:
        index.drop_text(_versions_of(instance))
    elif instance.state in ("clean", "released"):
        for version_id in _versions_of(instance):
            _queue_text(version_id)


def _versions_of(verdict: ScanVerdict) -> list[int]:
    """The versions a verdict is about: a finding by content (flagged or
    released) is about the bytes, so every version holding them; else its own."""
    if verdict.state not in ("flagged", "released") or not verdict.by_content:
        return [verdict.version_id]
    blob_id = FileVersion.objects.filter(pk=verdict.version_id).values_list("blob_id", flat=True).first()
    return list(FileVersion.objects.filter(blob_id=blob_id).values_list("pk", flat=True))


def _queue_text(version_id: int) -> None:
    from portal.search.tasks import index_version

    enqueue(index_version, version_id)


@receiver(rendition_ready, dispatch_uid="search_index_rendition")
def _rendition_ready(sender, version_id: int, **kwargs):
    """An Office file's text comes through its PDF rendition, once that is made."""
    from portal.search.tasks import index_version

    enqueue(index_version, version_id)
