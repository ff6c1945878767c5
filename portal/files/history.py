"""The places a node had: every rename, move, trash and restore leaves a
NodePlace row with the node's space, parent, name and trash state *before*
the change, in the change's own transaction.

Why a table and not the audit log: the log keeps paths as text as they were
at each event (a folder renamed later makes them point elsewhere), a restore
from the trash to another path says only where it went, and events older than
the audit retention are purged. One indexed read of these rows answers "where
was node N at time T" for a whole space. A receiver on Node saves catches
every code path (the API, the pages, WebDAV, WOPI, imports) without each
remembering to call it.
"""

from __future__ import annotations

from django.db.models.signals import pre_save

from portal.files.models import Node, NodePlace

WATCHED = frozenset({"parent", "parent_id", "name", "space", "space_id", "trashed_at"})


def remember_place(sender, instance: Node, raw=False, update_fields=None, **kwargs) -> None:
    if raw or instance._state.adding or instance.pk is None:
        return
    if update_fields is not None and not WATCHED & set(update_fields):
        return
    before = Node.objects.filter(pk=instance.pk).values("space_id", "parent_id", "name", "trashed_at").first()
    if before is None:
        return
    was = (before["space_id"], before["parent_id"], before["name"], before["trashed_at"] is not None)
    if was == (instance.space_id, instance.parent_id, instance.name, instance.trashed_at is not None):
        return
    NodePlace.objects.create(node_id=instance.pk, space_id_before=was[0], parent_id_before=was[1],
                             name_before=was[2], trashed_before=was[3])


def connect() -> None:
    pre_save.connect(remember_place, sender=Node, dispatch_uid="files.remember_place")
