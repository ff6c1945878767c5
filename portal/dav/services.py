"""Writes to WebDAV's own tables: dead properties and lock owners. File
and folder changes go through portal.files.services, locks through
portal.locks.services."""

from __future__ import annotations

from django.db import transaction
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext

from portal.audit.actions import Action
from portal.audit.models import Outcome
from portal.audit.services import record
from portal.core.access import Cap
from portal.dav.models import DeadProperty, LockOwner
from portal.files import walk
from portal.files.models import Node
from portal.files.selectors import locate_node
from portal.spaces.quota import refuse_archived

MAX_PROPERTY_BYTES = 64 * 1024
MAX_PROPERTIES = 1000


def _writable_node(actor, node_id) -> Node:
    located = locate_node(actor, node_id, Cap.FILE_WRITE)
    refuse_archived(located.space)
    return located.node


def property_check(*, actor, node_id, name: str, value: str | None) -> None:
    """Raise what property_set / property_remove would raise, changing nothing
    (PROPPATCH checks every change before making any)."""
    from portal.core.errors import InvalidInput

    node = _writable_node(actor, node_id)
    if value is not None and len(value.encode("utf-8")) > MAX_PROPERTY_BYTES:
        raise InvalidInput(gettext("A property value is at most %(MAX_PROPERTY_BYTES)s bytes.") % {"MAX_PROPERTY_BYTES": MAX_PROPERTY_BYTES}, code="property_too_large")
    if len(name) > 1024:
        raise InvalidInput(gettext("A property name is at most 1024 characters."), code="property_name_too_long")
    if value is not None and not DeadProperty.objects.filter(node=node, name=name).exists() \
            and DeadProperty.objects.filter(node=node).count() >= MAX_PROPERTIES:
        raise InvalidInput(gettext("A file or folder holds at most %(MAX_PROPERTIES)s properties.") % {"MAX_PROPERTIES": MAX_PROPERTIES}, code="too_many_properties")


@transaction.atomic
def property_set(*, actor, node_id, name: str, value: str) -> None:
    """Editors set a dead property (serialized XML element) on a node."""
    property_check(actor=actor, node_id=node_id, name=name, value=value)
    DeadProperty.objects.update_or_create(node_id=node_id, name=name, defaults={"value": value})


@transaction.atomic
def property_remove(*, actor, node_id, name: str) -> None:
    """Editors remove a dead property; removing a missing one is not an error (RFC 4918 9.2)."""
    _writable_node(actor, node_id)
    DeadProperty.objects.filter(node_id=node_id, name=name).delete()


def properties_copy(*, source: Node, copy: Node, members: bool = True) -> None:
    """Give a fresh copy (made by files.services.tree inside the caller's
    transaction) the dead properties of its source, and with ``members``
    those of everything it holds: a fixed number of queries, whatever the
    depth (the two subtrees are walked with portal.files.walk)."""
    pairs = {source.pk: copy.pk}
    if members and source.is_folder:
        pairs.update(_matching_members(source.pk, copy.pk))
    rows = [DeadProperty(node_id=pairs[node_id], name=name, value=value) for node_id, name, value
            in DeadProperty.objects.filter(node_id__in=list(pairs)).values_list("node_id", "name", "value")]
    DeadProperty.objects.bulk_create(rows)


def _live_members(folder_id: int) -> dict[int, list[tuple[int, str]]]:
    """(id, name key) of the live nodes below a folder, by parent id, in one query."""
    below: dict[int, list[tuple[int, str]]] = {}
    rows = (Node.objects.filter(pk__in=RawSQL(walk.LIVE_DESCENDANT_IDS_SQL, [folder_id]))
            .values_list("id", "parent_id", "name_key"))
    for node_id, parent_id, key in rows:
        below.setdefault(parent_id, []).append((node_id, key))
    return below


def _matching_members(source_id: int, copy_id: int) -> dict[int, int]:
    """Each live node below the source folder -> the node at the same path below the copy."""
    sources, copies = _live_members(source_id), _live_members(copy_id)
    pairs, pending = {}, [(source_id, copy_id)]
    while pending:
        source_parent, copy_parent = pending.pop()
        made = {key: node_id for node_id, key in copies.get(copy_parent, [])}
        for node_id, key in sources.get(source_parent, []):
            if key in made:
                pairs[node_id] = made[key]
                pending.append((node_id, made[key]))
    return pairs


def lock_owner_remember(*, token: str, owner_xml: str) -> None:
    """Keep the client's <owner> element for a lock it just took, and forget
    those of locks that are gone (released in the portal, broken, expired)."""
    from portal.locks.models import Lock

    LockOwner.objects.exclude(token__in=Lock.objects.values("token")).delete()
    if owner_xml:
        LockOwner.objects.update_or_create(token=token, defaults={"owner_xml": owner_xml})


def lock_owner_forget(*, token: str) -> None:
    LockOwner.objects.filter(token=token).delete()


def lock_refusal_record(*, actor, method: str, path: str) -> None:
    """Record a WebDAV write that a lock refused before any service ran
    (wsgidav checks the lock table first), as the services record theirs."""
    record(action=Action.LOCK_WRITE_REFUSED, actor=actor, target_label=path[:512], outcome=Outcome.DENIED,
           details={"operation": method.lower(), "via": "webdav"})
