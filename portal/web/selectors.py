"""Reads the pages need beyond the apps' own selectors; each starts from an
access-checked object, so it is scoped to what the actor may see."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from portal.files import names
from portal.files import selectors as files
from portal.files.models import FileVersion, Node
from portal.locks.selectors import lock_summaries
from portal.shares.models import SpaceSharePolicy


def folder_children(folder: Node, *, sort: str, descending: bool, name_contains: str = "") -> QuerySet[Node]:
    children = files.children_list(folder, sort=sort, descending=descending)
    if name_contains:
        children = children.filter(name__icontains=name_contains)
    return children


@dataclass(frozen=True)
class Entry:
    """One row of a folder page: the node, its path and the lock shown on it."""

    node: Node
    path: str
    lock: dict | None


def folder_entries(folder: files.Located, nodes, *, viewer) -> list[Entry]:
    """The rows of a page of ``folder``'s children, their locks looked up once for the page."""
    nodes = list(nodes)
    locks = lock_summaries(nodes, viewer=viewer, folder=folder.node)
    return [Entry(node=node, path=names.join([*folder.path_names, node.name]), lock=locks[node.pk])
            for node in nodes]


def versions_of(node: Node) -> QuerySet[FileVersion]:
    """A file's versions, newest first (``node`` comes from locate_node)."""
    return node.versions.select_related("blob", "created_by").order_by("-number")


def folders_of(space) -> list[str]:
    """Every live folder's path in a space (for the move/copy destination list), at most 500."""
    rows = list(Node.objects.filter(space=space, kind="folder", trashed_at__isnull=True)
                .values_list("id", "parent_id", "name")[:2000])
    by_id = {row[0]: row for row in rows}
    paths = []
    for node_id, parent_id, _ in rows:
        names, current = [], by_id.get(node_id)
        while current is not None and current[1] is not None:
            names.append(current[2])
            current = by_id.get(current[1])
        if current is None:  # under a folder in the trash
            continue
        paths.append("/" + "/".join(reversed(names)))
    return sorted(paths)[:500]


def trash_entries(nodes) -> list[tuple[Node, str]]:
    """Each trashed node with where it was (its name alone when its folder is gone too), in one query."""
    nodes = list(nodes)
    where = files.original_paths(nodes)
    return [(node, names.join(where[node.pk])) for node in nodes]


def own_link_policy(space) -> SpaceSharePolicy | None:
    """The space's own tightening of the link policy, if it has one (for the settings form)."""
    return SpaceSharePolicy.objects.filter(space_id=space.pk).first()
