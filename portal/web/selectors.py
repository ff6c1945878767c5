"""Reads the pages need beyond the apps' own selectors; each starts from an
access-checked object, so it is scoped to what the actor may see."""

from __future__ import annotations

from django.db.models import QuerySet

from portal.core.errors import NotFound
from portal.files import selectors as files
from portal.files.models import FileVersion, Node


def folder_children(folder: Node, *, sort: str, descending: bool, name_contains: str = "") -> QuerySet[Node]:
    children = files.children_list(folder, sort=sort, descending=descending)
    if name_contains:
        children = children.filter(name__icontains=name_contains)
    return children


def versions_of(node: Node) -> QuerySet[FileVersion]:
    """A file's versions, newest first (``node`` comes from access_node)."""
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


def original_path(node: Node) -> str:
    """Where a trashed node was (its name alone when its folder is gone too)."""
    try:
        return "/" + "/".join(files.attach_path(node.parent).path_names + [node.name])
    except NotFound:
        return "/" + node.name
