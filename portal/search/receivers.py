"""Keeping the index in step with the tree, inside the transaction that
changed it: a new node is indexed at once; a rename, move or restore
rewrites the node's row (and the rows below a folder: at once when few,
by a task when many); moving to the trash marks the whole subtree in one
statement. A new current version, or a clean scan verdict, queues the
text extraction (tasks.index_version) after commit."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from portal.files import walk
from portal.files.models import Node
from portal.scanning.models import ScanVerdict
from portal.search import index

PLACE_FIELDS = frozenset({"name", "name_key", "parent", "space", "trashed_at"})
SUBTREE_NOW = 1000   # folders with more nodes below are rewritten by a task


@receiver(post_save, sender=Node, dispatch_uid="search_index_node")
def _node_saved(sender, instance: Node, created: bool, raw: bool = False, update_fields=None, **kwargs):
    if raw:
        return
    fields = frozenset(update_fields) if update_fields is not None else None
    if created or fields is None or fields & PLACE_FIELDS:
        _replace(instance, created=created)
    if instance.current_version_id and (fields is None or "current_version" in fields):
        _queue_text(instance.current_version_id)


def _replace(node: Node, *, created: bool) -> None:
    if node.trashed_at is not None:
        index.set_trashed(node.pk, True)
        return
    index.index_node(node)
    if created or not node.is_folder:
        return
    if len(walk.descendant_ids(node.pk, live_only=False)) <= SUBTREE_NOW:
        index.index_subtree(node.pk)
    else:
        from portal.search.tasks import index_subtree

        node_id = node.pk
        transaction.on_commit(lambda: index_subtree.delay(node_id))


@receiver(post_save, sender=ScanVerdict, dispatch_uid="search_index_clean_version")
def _verdict_saved(sender, instance: ScanVerdict, raw: bool = False, **kwargs):
    if not raw and instance.version_id and instance.state in ("clean", "released"):
        _queue_text(instance.version_id)


def _queue_text(version_id: int) -> None:
    from portal.search.tasks import index_version

    transaction.on_commit(lambda: index_version.delay(version_id))
