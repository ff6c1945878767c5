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

from django.db import connection
from django.db.models.signals import pre_save
from django.utils import timezone

from portal.files.models import Node, NodePlace

NODES, PLACES = Node._meta.db_table, NodePlace._meta.db_table

WATCHED = frozenset({"parent", "parent_id", "name", "space", "space_id", "trashed_at"})


def remember_place(sender, instance: Node, raw=False, update_fields=None, **kwargs) -> None:
    """Before a node's place or trash state changes: one INSERT ... SELECT of
    the row as the database holds it, written only if the save changes it."""
    if raw or instance._state.adding or instance.pk is None:
        return
    if update_fields is not None and not WATCHED & set(update_fields):
        return
    same = "IS NOT DISTINCT FROM" if connection.vendor == "postgresql" else "IS"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {PLACES} (node_id, changed_at, space_id_before, parent_id_before, name_before, trashed_before) "
            f"SELECT id, %s, space_id, parent_id, name, trashed_at IS NOT NULL FROM {NODES} WHERE id = %s "
            f"AND NOT (space_id = %s AND parent_id {same} %s AND name = %s AND (trashed_at IS NOT NULL) = %s)",
            [timezone.now(), instance.pk, instance.space_id, instance.parent_id, instance.name,
             instance.trashed_at is not None])


def connect() -> None:
    pre_save.connect(remember_place, sender=Node, dispatch_uid="files.remember_place")
