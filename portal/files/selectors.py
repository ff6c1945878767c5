"""Reads of the file tree, always through the actor's access to the space."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils.translation import gettext

from portal.core.access import GRANT_CAPS, Cap, Role, caps_of
from portal.core.errors import Forbidden, InvalidInput, NotFound
from portal.files import names, walk
from portal.files.models import Node, NodeKind
from portal.spaces.models import Space
from portal.spaces.selectors import SpaceAccess, space_access


@dataclass(frozen=True)
class Located:
    """A node as one request found it: the node, its space, its path from the
    space's root (names as stored) and the caller's role there. Resolved once
    by a ``locate_*`` function and handed down; nothing re-resolves it.

    ``scope_id`` is set when the caller reached the node through an internal
    share (portal.shares) rather than membership: the shared node's id, at
    depth ``scope_depth`` of the path. The role is then the share's, and it
    reaches that node and what is below it, nothing else of the space."""

    node: Node
    space: Space
    path_names: tuple[str, ...]
    role: str | None = None
    admin: bool = False
    scope_id: int | None = None
    scope_depth: int = 0

    @property
    def path(self) -> str:
        return names.join(list(self.path_names))

    @property
    def scoped(self) -> bool:
        return self.scope_id is not None

    @property
    def access(self) -> SpaceAccess:
        """What the caller may do in the node's space (no query); nothing
        space-wide for a caller who only holds a share of this subtree."""
        if self.scoped:
            return SpaceAccess(space=self.space, role=None, admin=False)
        return SpaceAccess(space=self.space, role=self.role, admin=self.admin)

    def can(self, cap: Cap) -> bool:
        """Whether the caller may use ``cap`` on this node."""
        return cap in (GRANT_CAPS.get(self.role, frozenset()) if self.scoped else caps_of(self.role, admin=self.admin))

    @property
    def is_scope_root(self) -> bool:
        """The shared node itself: its name and place belong to the folder above, which is not shared."""
        return self.scoped and self.node.pk == self.scope_id

    @property
    def scope_names(self) -> tuple[str, ...]:
        """The path from the shared node (its name first) for a scoped caller, else from the space's root."""
        return self.path_names[self.scope_depth - 1:] if self.scoped else self.path_names

    def moved(self, node: Node, path_names) -> Located:
        """The same caller's view of another node of the space (a result of a write)."""
        return Located(node=node, space=self.space, path_names=tuple(path_names), role=self.role, admin=self.admin,
                       scope_id=self.scope_id, scope_depth=self.scope_depth)

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


def path_walk(space: Space, path_names: list[str], *, hold: bool = False) -> list[Node]:
    """The live nodes along a path, root first, in one query (shorter than
    the path + 1 when something is missing); the root is made on first use.
    ``hold``: held for a write in the same query (walk.walk_down)."""
    chain = walk.walk_down(space.pk, [names.name_key(name) for name in path_names], hold=hold)
    return chain or [space_root(space)]


def stored_names(chain: list[Node]) -> list[str]:
    """The names along a walked chain as stored (a path asked in another case answers in the real one)."""
    return [node.name for node in chain[1:]]


def node_at(space: Space, path_names: list[str]) -> tuple[Node, list[str]]:
    """The live node at a path and its path as stored; NotFound naming the first missing piece."""
    chain = path_walk(space, path_names)
    if len(chain) <= len(path_names):
        found = stored_names(chain)
        if not chain[-1].is_folder:
            raise NotFound(gettext("%(join)s is a file, not a folder.") % {"join": names.join(found)})
        raise NotFound(gettext("Nothing at %(join)s.") % {"join": names.join(found + [path_names[len(found)]])})
    return chain[-1], stored_names(chain)


def path_names_of(node: Node) -> list[str]:
    """The node's path from its space's root, in one query; NotFound if the
    node or any ancestor is in the trash (then it is not in the live tree)."""
    steps = walk.walk_up(node.pk)
    if not steps or any(step.trashed for step in steps):
        raise NotFound(gettext("No such file or folder."))
    return [step.name for step in steps[1:]]


def original_paths(nodes) -> dict[int, list[str]]:
    """Where each trashed node was, by id, in one query whatever their number:
    its old folder's path and its name, or its name alone when that folder
    went to the trash too (or is gone)."""
    nodes = list(nodes)
    walks = walk.walks_up([node.parent_id for node in nodes if node.parent_id is not None])
    paths = {}
    for node in nodes:
        steps = walks.get(node.parent_id, [])
        gone = not steps or any(step.trashed for step in steps)
        paths[node.pk] = [node.name] if gone else [step.name for step in steps[1:]] + [node.name]
    return paths


def path_label(node: Node) -> str:
    """A node's path for messages and audit labels, trashed ancestors included."""
    return names.join([step.name for step in walk.walk_up(node.pk)[1:]])


def _node_by_id(node_id) -> Node | None:
    try:
        return Node.objects.select_related("current_version__blob", "space").filter(pk=int(node_id)).first()
    except (TypeError, ValueError):
        return None


def locate_node(actor, node_id, cap: Cap = Cap.FILE_READ) -> Located:
    """A live node the actor may use with ``cap``; the same NotFound for
    missing nodes, nodes in the trash and nodes in spaces the actor is not in."""
    node = _node_by_id(node_id)
    if node is None:
        raise NotFound(gettext("No such file or folder."))
    try:
        access = _space_of(actor, node, cap, "No such file or folder.")
    except (NotFound, Forbidden) as refused:
        steps = walk.walk_up(node.pk)
        if not steps or any(step.trashed for step in steps):
            raise NotFound(gettext("No such file or folder.")) from None
        return _shared(actor, node, [step.id for step in steps], [step.name for step in steps[1:]], cap, refused)
    return _located(node, access, path_names_of(node))


def _shared(actor, node: Node, chain_ids: list[int], path_names, cap: Cap, refused: Exception) -> Located:
    """The node as the actor's internal shares give it (``chain_ids``: the
    space's root down to the node), one query; ``refused`` (the space's
    answer, word for word) when no live share covers it."""
    from portal.shares.selectors import grant_on  # shares builds on files

    if node.space.deleted_at is not None:  # a space in the trash: no share reaches into it
        raise refused
    grant = grant_on(actor, node.space_id, chain_ids)
    if grant is None:
        raise refused
    scope_id, role = grant
    if cap not in GRANT_CAPS[role]:
        raise Forbidden(gettext("This was shared with you as %(role)s; you cannot do this (%(value)s).")
                        % {"role": str(Role(role).label).lower(), "value": cap.value}, detail={"capability": cap.value, "role": role})
    return Located(node=node, space=node.space, path_names=tuple(path_names), role=role, scope_id=scope_id,
                   scope_depth=chain_ids.index(scope_id))


def _located(node: Node, access: SpaceAccess, path_names) -> Located:
    node.space = access.space  # the foreign key's own cache: the same row, already loaded
    return Located(node=node, space=access.space, path_names=tuple(path_names), role=access.role,
                   admin=access.admin)


def _space_of(actor, node: Node, cap: Cap, missing: str) -> SpaceAccess:
    """The actor's access to the node's space if it allows ``cap``; an
    outsider gets the node's own "not found", word for word."""
    try:
        return space_access(actor, node.space_id, cap)
    except NotFound:
        raise NotFound(missing) from None


def locate_trashed(actor, node_id, cap: Cap) -> Located:
    """A node the actor deleted into the trash (the node itself, not something
    inside it); its path is where it was deleted from."""
    node = _node_by_id(node_id)
    if node is None or node.trashed_at is None:
        raise NotFound(gettext("No such item in the trash."))
    access = _space_of(actor, node, cap, "No such item in the trash.")
    return _located(node, access, [step.name for step in walk.walk_up(node.pk)[1:]])


def locate_path(actor, space_id, path: str, cap: Cap = Cap.FILE_READ) -> Located:
    """The live node at ``path`` in a space the actor may use with ``cap``,
    or under a folder shared with them there (then scoped, as locate_node)."""
    path_names = names.split_path(path, existing=True)
    try:
        access = space_access(actor, space_id, cap)
    except (NotFound, Forbidden) as refused:
        return _shared_path(actor, space_id, path_names, cap, refused)
    node, stored = node_at(access.space, path_names)
    return _located(node, access, stored)


def _shared_path(actor, space_id, path_names: list[str], cap: Cap, refused: Exception) -> Located:
    """locate_path for a caller outside the space: only a path that exists
    and lies under a live share of theirs; else the space's own refusal."""
    space = Space.objects.filter(pk=int(space_id)).first() if str(space_id).isdigit() else None
    if space is None or not getattr(actor, "is_authenticated", False):
        raise refused
    chain = walk.walk_down(space.pk, [names.name_key(name) for name in path_names])
    if len(chain) <= len(path_names):
        raise refused  # missing, or a file in the way: an outsider learns nothing of the space's tree
    node = chain[-1]
    node.space = space
    return _shared(actor, node, [step.pk for step in chain], stored_names(chain), cap, refused)


def locate_in(access: SpaceAccess, node: Node, path_names) -> Located:
    """A node the caller already reached inside a space they were checked for."""
    return _located(node, access, path_names)


def children_list(folder: Node, *, sort: str = "name", descending: bool = False) -> QuerySet[Node]:
    """Folders first, then files, ordered by ``sort``; one query per page."""
    if sort not in SORTS:
        raise InvalidInput(gettext("Unknown sort %(sort)r; use one of: %(join)s.") % {"sort": sort, "join": ', '.join(SORTS)}, code="invalid_sort")
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
    """The ids of a node and everything below it (trashed or not), in one query."""
    return [node.id] + walk.descendant_ids(node.id, live_only=False)
