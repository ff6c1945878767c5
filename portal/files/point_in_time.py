"""The plan of a restore to a point in time: what a space or folder held at
time T, compared with what it holds now (portal.files.services.point_in_time
applies it). The rules are in docs/restore.md.

One plan costs a handful of queries whatever the tree's size: the space's
nodes (with their current version and the version current at T), the places
they left after T (NodePlace), the versions at T and the live locks. The rest
is computed in memory. The preview and the apply call the same function.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import OuterRef, Subquery
from django.utils import timezone

from portal.files import names
from portal.files.models import FileVersion, Node, NodeKind, NodePlace
from portal.locks.models import Lock, LockDepth
from portal.locks.selectors import blocking_locks

# What a change does to its node.
TRASH = "trash"        # made after T (or back from the trash since): to the trash, recoverable
UNTRASH = "untrash"    # in the trash now, there at T: back from the trash, to its place at T
PLACE = "place"        # renamed or moved since T: back to its name and folder at T
CONTENT = "content"    # changed since T: the version current at T becomes a new version
KINDS = (TRASH, UNTRASH, PLACE, CONTENT)
# Why something is left alone.
LOCKED = "locked"              # locked by someone else (locks are honoured)
MOVED_IN = "moved_in"          # came from elsewhere in the space after T
MOVED_OUT = "moved_out"        # was here at T, now elsewhere in the space or in another space
NO_VERSION = "no_version"      # the version current at T was pruned since


@dataclass
class Item:
    """One node as the plan sees it: now, and at T."""

    id: int
    kind: str
    parent: int | None
    name: str
    trashed: bool
    created_at: datetime
    version_id: int | None
    version_number: int | None
    version_created: datetime | None
    blob_id: int | None
    at_version_id: int | None
    parent_t: int | None = None
    name_t: str = ""
    trashed_t: bool = False

    @property
    def is_folder(self) -> bool:
        return self.kind == NodeKind.FOLDER


@dataclass
class Change:
    kind: str
    node_id: int
    is_folder: bool
    path: str                   # where it is now (in the trash: where it was)
    to: str = ""                # where it goes (TRASH: empty)
    parent_id: int | None = None
    name: str = ""              # the name it gets (maybe "name (2)")
    collision: bool = False     # its name at T was taken: it gets "name (n)"
    version: int | None = None  # CONTENT: the version restored
    version_id: int | None = None
    size: int = 0
    skipped: str = ""           # why it is left alone, or empty

    def as_dict(self) -> dict:
        out = {"kind": self.kind, "node": self.node_id, "folder": self.is_folder, "path": self.path}
        if self.to:
            out["to"] = self.to
        if self.collision:
            out["collision"] = True
        if self.version is not None:
            out["version"], out["size"] = self.version, self.size
        if self.skipped:
            out["skipped"] = self.skipped
        return out


@dataclass
class Plan:
    space_id: int
    folder_id: int
    folder_path: str
    at: datetime
    changes: list[Change] = field(default_factory=list)   # in the order they apply
    skipped: list[Change] = field(default_factory=list)
    bytes_needed: int = 0
    items: dict[int, Item] = field(default_factory=dict, repr=False)

    @property
    def counts(self) -> dict[str, int]:
        counts = {kind: 0 for kind in KINDS}
        for change in self.changes:
            counts[change.kind] += 1
        counts["collisions"] = sum(1 for change in self.changes if change.collision)
        counts["skipped"] = len(self.skipped)
        counts["locked"] = sum(1 for change in self.skipped if change.skipped == LOCKED)
        return counts


def _items(space_id: int, at: datetime) -> dict[int, Item]:
    """Every node of the space (trashed ones too), with the version current at T: one query."""
    at_version = (FileVersion.objects.filter(node=OuterRef("pk"), created_at__lte=at)
                  .order_by("-number").values("pk")[:1])
    rows = (Node.objects.filter(space_id=space_id)
            .annotate(at_version=Subquery(at_version))
            .values_list("pk", "kind", "parent_id", "name", "trashed_at", "created_at", "current_version_id",
                         "current_version__number", "current_version__created_at", "current_version__blob_id",
                         "at_version"))
    items = {}
    for (pk, kind, parent, name, trashed_at, created_at, version_id, number, version_created, blob_id,
         at_version_id) in rows.iterator(chunk_size=5000):
        items[pk] = Item(pk, kind, parent, name, trashed_at is not None, created_at, version_id, number,
                         version_created, blob_id, at_version_id, parent, name, trashed_at is not None)
    return items


def _places_at(items: dict[int, Item], space_id: int, at: datetime) -> dict[int, tuple[int | None, str]]:
    """Set each item's place at T from its first NodePlace row after T (one
    query); {node id: (parent, name) at T} of the nodes that were in this
    space at T and are in another now."""
    rows = (NodePlace.objects.filter(space_id_before=space_id, changed_at__gt=at)
            .order_by("node_id", "changed_at", "id")
            .values_list("node_id", "parent_id_before", "name_before", "trashed_before"))
    seen, elsewhere = set(), {}
    for node_id, parent, name, trashed in rows.iterator(chunk_size=5000):
        if node_id in seen:
            continue
        seen.add(node_id)
        item = items.get(node_id)
        if item is None:
            if not trashed:
                elsewhere[node_id] = (parent, name)
            continue
        item.parent_t, item.name_t, item.trashed_t = parent, name, trashed
    # A node that came from another space after T has its first row there: it was not here at T.
    arrived = (NodePlace.objects.filter(node__space_id=space_id, changed_at__gt=at).exclude(space_id_before=space_id)
               .values_list("node_id", "changed_at"))
    for node_id, changed_at in arrived:
        if node_id in items and node_id not in seen:
            items[node_id].created_at = max(items[node_id].created_at, changed_at)
    return elsewhere


class _Tree:
    """Walks up the tree now and at T, with memos (the tree is in memory)."""

    def __init__(self, items: dict[int, Item], folder_id: int, at: datetime):
        self.items, self.folder_id, self.at = items, folder_id, at
        self._t: dict[int, bool] = {folder_id: True}
        self._now: dict[int, tuple[bool, bool]] = {folder_id: (True, True)}

    def live_at_t(self, node_id: int) -> bool:
        """Whether the node was live at T inside the folder."""
        chain, node_id_ = [], node_id
        while node_id_ not in self._t:
            item = self.items.get(node_id_)
            if item is None or item.created_at > self.at or item.trashed_t or item.parent_t is None:
                self._t[node_id_] = False
                break
            chain.append(node_id_)
            node_id_ = item.parent_t
            if len(chain) > 10_000:  # a cycle in broken history: not live
                return False
        answer = self._t[node_id_]
        for step in chain:
            self._t[step] = answer
        return answer

    def now(self, node_id: int) -> tuple[bool, bool]:
        """(inside the folder now, live now): whether the node's chain reaches
        the folder, and whether nothing on the way is in the trash."""
        chain, node_id_ = [], node_id
        while node_id_ not in self._now:
            item = self.items.get(node_id_)
            if item is None or item.parent is None:
                self._now[node_id_] = (False, False)
                break
            chain.append(node_id_)
            node_id_ = item.parent
        inside, live = self._now[node_id_]
        for step in reversed(chain):
            live = live and not self.items[step].trashed
            self._now[step] = (inside, live)
        return self._now[node_id]

    def path(self, node_id: int, *, at_t: bool) -> list[str]:
        out = []
        while node_id is not None:
            item = self.items.get(node_id)
            if item is None:
                break
            parent = item.parent_t if at_t else item.parent
            if parent is None:
                break
            out.append(item.name_t if at_t else item.name)
            node_id = parent
        return out[::-1]


def _free(taken: set[str], name: str) -> str:
    """free_name's rule (portal.files.services.direct) against names in memory."""
    return names.first_free(name, lambda candidate: names.name_key(candidate) in taken) or name


def live_locks(space_id: int) -> dict[int, list[Lock]]:
    """The live locks in a space, by node (one query)."""
    locks: dict[int, list[Lock]] = {}
    for lock in Lock.objects.filter(node__space_id=space_id, expires_at__gt=timezone.now()):
        locks.setdefault(lock.node_id, []).append(lock)
    return locks


class LockCheck:
    """Whether live locks stop the actor from changing a node: its own, its
    ancestors' with depth infinity, and for a folder moved or trashed, any
    lock below it (as locks.selectors.ensure_writable sees them)."""

    def __init__(self, items: dict[int, Item], locks: dict[int, list[Lock]], actor):
        self.items, self.actor = items, actor
        self.blocking = {node_id: found for node_id, node_locks in locks.items()
                         if (found := blocking_locks(node_locks, actor, frozenset()))}
        self.below: set[int] = set()
        for node_id in self.blocking:
            parent = items[node_id].parent if node_id in items else None
            while parent is not None and parent not in self.below:
                self.below.add(parent)
                parent = items[parent].parent if parent in items else None

    def blocked(self, item: Item, *, whole: bool) -> bool:
        if item.id in self.blocking or (whole and item.is_folder and item.id in self.below):
            return True
        parent = item.parent
        while parent is not None:
            if any(lock.depth == LockDepth.INFINITY for lock in self.blocking.get(parent, ())):
                return True
            parent = self.items[parent].parent if parent in self.items else None
        return False

    def adding_to(self, folder_id: int | None) -> bool:
        """Whether locks stop putting an item into a folder: the folder's own, its ancestors' with depth infinity."""
        if folder_id in self.blocking:
            return True
        item = self.items.get(folder_id)
        return item is not None and self.blocked(item, whole=False)


def plan_build(*, space_id: int, folder: Node, at: datetime, actor) -> Plan:
    """What restoring ``folder`` (a space's root or a live folder) to ``at`` would change."""
    items = _items(space_id, at)
    elsewhere = _places_at(items, space_id, at)
    tree = _Tree(items, folder.pk, at)
    check = LockCheck(items, live_locks(space_id), actor)
    plan = Plan(space_id=space_id, folder_id=folder.pk, folder_path=names.join(tree.path(folder.pk, at_t=False)), at=at,
                items=items)
    versions = _versions_at(items, tree)
    trash, back, content = [], [], []
    for item in items.values():
        if item.id == folder.pk or item.parent is None:
            continue
        was = tree.live_at_t(item.id)
        inside, live = tree.now(item.id)
        if was and not inside:
            plan.skipped.append(Change(MOVED_OUT, item.id, item.is_folder, names.join(tree.path(item.id, at_t=False)),
                                       to=names.join(tree.path(item.id, at_t=True)), skipped=MOVED_OUT))
        elif was:
            if item.trashed or (item.parent, item.name) != (item.parent_t, item.name_t):
                back.append(item)
            if item.id in versions:
                content.append(item)
        elif inside and live:
            if item.parent != folder.pk and not tree.live_at_t(item.parent):
                continue  # its folder was not there at T either: it goes to the trash with it
            if item.created_at <= at and not item.trashed_t and _was_elsewhere(item, tree):
                plan.skipped.append(Change(MOVED_IN, item.id, item.is_folder,
                                           names.join(tree.path(item.id, at_t=False)), skipped=MOVED_IN))
                continue
            trash.append(item)
    for node_id, (parent, name) in sorted(elsewhere.items()):
        if parent is not None and tree.live_at_t(parent):
            where = names.join(tree.path(parent, at_t=True) + [name])
            plan.skipped.append(Change(MOVED_OUT, node_id, False, where, to=where, skipped=MOVED_OUT))
    _plan_trash(plan, trash, tree, check)
    _plan_back(plan, back, items, tree, check)
    _plan_content(plan, content, versions, tree, check)
    return plan


def _was_elsewhere(item: Item, tree: _Tree) -> bool:
    """A node that existed at T, not in the trash, but not inside the folder: it came from elsewhere."""
    parent = item.parent_t
    while parent is not None:
        if parent == tree.folder_id:
            return False
        node = tree.items.get(parent)
        if node is None or node.trashed_t:
            return False
        parent = node.parent_t
    return True


def _versions_at(items: dict[int, Item], tree: _Tree) -> dict[int, dict]:
    """For each file live at T whose current version is newer than T: the
    version current at T (one query), or {} when it was pruned."""
    wanted = {item.id: item.at_version_id for item in items.values()
              if item.kind == NodeKind.FILE and item.version_created is not None and item.version_created > tree.at
              and tree.live_at_t(item.id)}
    found = {row["pk"]: row for row in FileVersion.objects.filter(pk__in=[v for v in wanted.values() if v])
             .values("pk", "number", "blob_id", "size")}
    out = {}
    for node_id, version_id in wanted.items():
        row = found.get(version_id, {})
        if row and row["blob_id"] == items[node_id].blob_id:
            continue  # the bytes of T are current already (restored by an earlier apply)
        out[node_id] = row
    return out


def _plan_trash(plan: Plan, trash: list[Item], tree: _Tree, check: LockCheck) -> None:
    for item in sorted(trash, key=lambda i: tree.path(i.id, at_t=False)):
        change = Change(TRASH, item.id, item.is_folder, names.join(tree.path(item.id, at_t=False)))
        _add(plan, change, check.blocked(item, whole=True))


def _plan_back(plan: Plan, back: list[Item], items: dict[int, Item], tree: _Tree, check: LockCheck) -> None:
    """Untrash and move back, parents first, as the apply does them one by
    one: a name taken at the place of T then gets "name (n)"."""
    gone = {change.node_id for change in plan.changes if change.kind == TRASH}
    taken: dict[int, set[str]] = {}
    for item in items.values():
        if not item.trashed and item.id not in gone and item.parent is not None:
            taken.setdefault(item.parent, set()).add(names.name_key(item.name))
    for item in sorted(back, key=lambda i: (len(tree.path(i.id, at_t=True)), tree.path(i.id, at_t=True))):
        blocked = check.blocked(item, whole=True) or check.adding_to(item.parent_t)
        here = taken.setdefault(item.parent_t, set())
        if not item.trashed:
            taken.get(item.parent, set()).discard(names.name_key(item.name))
        name = _free(here, item.name_t)
        if not item.trashed and (item.parent, item.name) == (item.parent_t, name):
            here.add(names.name_key(name))
            continue  # already where an earlier restore put it, beside the item that kept the name
        where = tree.path(item.id, at_t=True)
        change = Change(UNTRASH if item.trashed else PLACE, item.id, item.is_folder,
                        names.join(tree.path(item.id, at_t=False)), to=names.join(where[:-1] + [name]),
                        parent_id=item.parent_t, name=name, collision=name != item.name_t)
        if _add(plan, change, blocked):
            here.add(names.name_key(name))
        elif not item.trashed:
            taken.setdefault(item.parent, set()).add(names.name_key(item.name))


def _plan_content(plan: Plan, content: list[Item], versions: dict[int, dict], tree: _Tree, check: LockCheck) -> None:
    for item in sorted(content, key=lambda i: tree.path(i.id, at_t=True)):
        row = versions[item.id]
        path = names.join(tree.path(item.id, at_t=True))
        if not row:
            plan.skipped.append(Change(CONTENT, item.id, False, path, skipped=NO_VERSION))
            continue
        change = Change(CONTENT, item.id, False, path, version=row["number"], version_id=row["pk"], size=row["size"])
        if _add(plan, change, check.blocked(item, whole=False)):
            plan.bytes_needed += row["size"]


def _add(plan: Plan, change: Change, blocked: bool) -> bool:
    if blocked:
        change.skipped = LOCKED
        plan.skipped.append(change)
        return False
    plan.changes.append(change)
    return True
