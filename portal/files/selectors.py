"""Reads of the file tree, always through the actor's access to the space."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from portal.core.access import Cap
from portal.core.errors import InvalidInput, NotFound
from portal.files import names
from portal.files.models import Node, NodeKind
from portal.spaces.models import Space
from portal.spaces.selectors import access_space

SORTS = {"name": "name_key", "size": "size", "modified": "modified_at"}
# What a listing shows of each entry (see files.api.node_out); nothing more is loaded.
LISTED_FIELDS = ("id", "space_id", "parent_id", "kind", "name", "size", "modified_at", "created_at",
                 "current_version__number", "current_version__blob__sha256")


def space_root(space: Space) -> Node:
    """The space's root folder, made on first use (race-safe)."""
    root = Node.objects.filter(space=space, parent__isnull=True).first()
    if root is not None:
        return root
    try:
        with transaction.atomic():
            return Node.objects.create(space=space, parent=None, kind=NodeKind.FOLDER, name="", name_key="")
    except IntegrityError:
        return Node.objects.get(space=space, parent__isnull=True)


def child_named(folder: Node, name: str) -> Node | None:
    return Node.objects.filter(parent=folder, name_key=names.name_key(name), trashed_at__isnull=True).first()


def node_at(space: Space, path_names: list[str]) -> Node:
    """The live node at a path; NotFound naming the first missing piece."""
    node, stored = space_root(space), []
    for depth, name in enumerate(path_names):
        if not node.is_folder:
            raise NotFound(f"{names.join(stored)} is a file, not a folder.")
        child = child_named(node, name)
        if child is None:
            raise NotFound(f"Nothing at {names.join(stored + [name])}.")
        node = child
        stored.append(child.name)  # as stored: a path asked in another case answers in the real one
    node.path_names = stored
    return node


def attach_path(node: Node) -> Node:
    """Set ``node.path_names`` by walking up; NotFound if any ancestor (or the
    node) is in the trash, since then the node is not in the live tree."""
    chain, current = [], node
    while current.parent_id is not None:
        if current.trashed_at is not None:
            raise NotFound("No such file or folder.")
        chain.append(current.name)
        current = Node.objects.only("id", "parent_id", "name", "trashed_at").get(pk=current.parent_id)
    node.path_names = list(reversed(chain))
    return node


def _node_by_id(node_id) -> Node | None:
    try:
        return Node.objects.select_related("current_version__blob", "space").filter(pk=int(node_id)).first()
    except (TypeError, ValueError):
        return None


def access_node(actor, node_id, cap: Cap = Cap.FILE_READ) -> Node:
    """A live node the actor may use with ``cap``; the same NotFound for
    missing nodes, nodes in the trash and nodes in spaces the actor is not in."""
    node = _node_by_id(node_id)
    if node is None:
        raise NotFound("No such file or folder.")
    node.space = _space_of(actor, node, cap, "No such file or folder.")
    return attach_path(node)


def _space_of(actor, node: Node, cap: Cap, missing: str) -> Space:
    """The node's space if the actor may use ``cap`` there; an outsider gets
    the node's own "not found", word for word."""
    try:
        return access_space(actor, node.space_id, cap)
    except NotFound:
        raise NotFound(missing) from None


def access_trashed(actor, node_id, cap: Cap) -> Node:
    """A node the actor deleted into the trash (the node itself, not something inside it)."""
    node = _node_by_id(node_id)
    if node is None or node.trashed_at is None:
        raise NotFound("No such item in the trash.")
    node.space = _space_of(actor, node, cap, "No such item in the trash.")
    return node


def access_path(actor, space_id, path: str, cap: Cap = Cap.FILE_READ) -> Node:
    space = access_space(actor, space_id, cap)
    node = node_at(space, names.split_path(path, existing=True))
    node.space = space
    return node


def children_list(folder: Node, *, sort: str = "name", descending: bool = False) -> QuerySet[Node]:
    """Folders first, then files, ordered by ``sort``; one query per page."""
    if sort not in SORTS:
        raise InvalidInput(f"Unknown sort {sort!r}; use one of: {', '.join(SORTS)}.", code="invalid_sort")
    order = ("-" if descending else "") + SORTS[sort]
    # "folder" sorts after "file", so descending kind puts folders first.
    return (Node.objects.filter(parent=folder, trashed_at__isnull=True)
            .select_related("current_version__blob")
            .only(*LISTED_FIELDS)
            .order_by("-kind", order, "id"))


def trash_list(space: Space) -> QuerySet[Node]:
    return (Node.objects.filter(space=space, trashed_at__isnull=False)
            .select_related("current_version__blob", "trashed_by").order_by("-trashed_at", "id"))


def subtree_ids(node: Node) -> list[int]:
    """The ids of a node and everything below it, one query per level."""
    ids, level = [node.id], [node.id]
    while level:
        level = list(Node.objects.filter(parent_id__in=level).values_list("id", flat=True))
        ids.extend(level)
    return ids
