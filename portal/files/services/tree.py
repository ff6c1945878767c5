"""Writes to the folder tree: create folders, rename, move, copy, trash,
restore and purge. Each public function is one transaction with its audit
event; all need the file.write capability unless the docstring says otherwise."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, models, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext

from portal.audit.actions import Action
from portal.audit.services import record
from portal.core.access import Cap
from portal.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from portal.files import names, walk
from portal.files.models import FileVersion, Node, NodeKind
from portal.files.selectors import (Located, child_named, locate_in, locate_node, locate_path, locate_trashed, node_at,
                                    path_names_of, path_walk, stored_names, subtree_ids)
from portal.files.services.common import schedule_blob_collection
from portal.locks.selectors import ensure_writable
from portal.locks.services import records_lock_refusals
from portal.spaces.quota import charge_quota, lock_spaces, refuse_archived, release_quota
from portal.spaces.models import Space
from portal.spaces.selectors import space_access


def ensure_name_free(folder: Node, name: str, *, path: list[str], exclude: Node | None = None) -> None:
    existing = child_named(folder, name)
    if existing is not None and existing != exclude:
        raise Conflict(gettext("%(join)s already exists (names are compared ignoring case).") % {"join": names.join(path)},
                       code="name_taken", detail={"path": names.join(path), "id": existing.id})


def _create_folder(space: Space, parent: Node, name: str, actor) -> Node:
    names.clean_name(name)  # paths are parsed leniently (old names still resolve); a new name obeys every rule
    try:
        with transaction.atomic():
            return Node.objects.create(space=space, parent=parent, kind=NodeKind.FOLDER, name=name,
                                       name_key=names.name_key(name), created_by=actor)
    except IntegrityError:  # made by a concurrent request a moment ago
        existing = child_named(parent, name)
        if existing is None:
            raise
        return existing


def ensure_folders(space: Space, path_names: list[str], actor, *,
                   chain: list[Node] | None = None) -> tuple[Node, list[str], bool]:
    """(folder, its path as stored, whether anything was made): the folder at
    ``path_names``, creating what is missing ("mkdir -p"). ``chain``: the
    walk towards it when the caller made one already."""
    chain = path_walk(space, path_names) if chain is None else chain
    if not chain[-1].is_folder:
        raise Conflict(gettext("%(join)s is a file, not a folder.") % {"join": names.join(stored_names(chain))}, code="not_a_folder")
    node, stored = chain[-1], stored_names(chain)[:len(path_names)]
    for name in path_names[len(stored):]:
        node = _create_folder(space, node, name, actor)
        if not node.is_folder:  # a file made by a concurrent request a moment ago
            raise Conflict(gettext("%(join)s is a file, not a folder.") % {"join": names.join(stored + [node.name])}, code="not_a_folder")
        stored.append(node.name)
    return node, stored, len(chain) <= len(path_names)


@transaction.atomic
def folder_create(*, actor, space_id, path: str) -> tuple[Located, bool]:
    """Create a folder and any missing parents; (the folder, whether anything was made)."""
    access = space_access(actor, space_id, Cap.FILE_WRITE)
    refuse_archived(access.space)
    path_names = names.split_path(path, existing=True)
    folder, stored, created = ensure_folders(access.space, path_names, actor)
    if created:
        record(action=Action.FOLDER_CREATED, actor=actor, target=folder, target_label=names.join(path_names),
               space=access.space)
    return locate_in(access, folder, stored), created


@dataclass(frozen=True)
class Destination:
    """Where a move, copy or restore goes: the parent folder (located), the name, the full path."""

    parent: Located
    name: str
    path: list[str]

    @property
    def space(self) -> Space:
        return self.parent.space


def _destination(actor, space_id, path: str, *, keeping: str) -> Destination:
    """The target of a move, copy or restore of the item now named
    ``keeping``: a new name obeys every rule; the item's own name, stored
    before a rule, may go along unchanged."""
    try:
        access = space_access(actor, space_id, Cap.FILE_WRITE)
    except (NotFound, Forbidden) as refused:
        return _shared_destination(actor, space_id, path, keeping=keeping, refused=refused)
    refuse_archived(access.space)
    path_names = _destination_names(path, keeping)
    try:
        parent, parent_path = node_at(access.space, path_names[:-1])
    except NotFound as exc:
        raise NotFound(gettext("The destination folder does not exist: %(message)s") % {"message": exc.message}) from None
    if not parent.is_folder:
        raise Conflict(gettext("%(join)s is a file, not a folder.") % {"join": names.join(parent_path)}, code="not_a_folder")
    return Destination(parent=locate_in(access, parent, parent_path), name=path_names[-1],
                       path=parent_path + [path_names[-1]])


def _destination_names(path: str, keeping: str) -> list[str]:
    path_names = names.split_path(path, existing=True)
    if not path_names:
        raise InvalidInput(gettext("The destination path must end with the item's name."), code="invalid_path")
    if path_names[-1] != keeping:
        names.clean_name(path_names[-1])
    return path_names


def _shared_destination(actor, space_id, path: str, *, keeping: str, refused: Exception) -> Destination:
    """A destination in a folder shared with the actor as editor (scoped to
    it); anything else answers the space's own refusal, word for word."""
    try:
        path_names = names.split_path(path, existing=True)
        parent = locate_path(actor, space_id, names.join(path_names[:-1]), Cap.FILE_WRITE) if path_names else None
    except (NotFound, InvalidInput):
        raise refused from None
    if parent is None or not parent.node.is_folder:
        raise refused
    refuse_archived(parent.space)
    path_names = _destination_names(path, keeping)
    return Destination(parent=parent, name=path_names[-1], path=list(parent.path_names) + [path_names[-1]])


def _refuse_into_itself(node: Node, parent: Node) -> None:
    if any(step.id == node.pk for step in walk.walk_up(parent.pk)):
        raise InvalidInput(gettext("A folder cannot be moved or copied into itself."), code="into_itself")


def _writable(actor, node_id) -> Located:
    located = locate_node(actor, node_id, Cap.FILE_WRITE)
    refuse_archived(located.space)
    if located.node.is_root:
        raise InvalidInput(gettext("A space's root folder cannot be changed."), code="root_folder")
    if located.is_scope_root:  # its name and place belong to the folder above, which is not shared
        raise Forbidden(gettext("This was shared with you: you may change what it holds, not rename, move or "
                                "delete it."), code="shared_item")
    return located


def _refuse_leaving_share(located: Located, destination: Destination) -> None:
    """What was reached through a share stays in that shared folder."""
    if located.scoped and destination.parent.scope_id != located.scope_id:
        raise Forbidden(gettext("Items shared with you stay in the shared folder; copy them instead."),
                        code="leaves_share")


@records_lock_refusals
@transaction.atomic
def node_rename(*, actor, node_id, name, lock_tokens=()) -> Located:
    """Editors rename a file or folder in its folder; the node where it now is."""
    located = _writable(actor, node_id)
    node = located.node
    name = names.clean_name(name)
    if name == node.name:
        return located
    ensure_writable(located, actor=actor, tokens=lock_tokens, operation="rename")
    new_path = list(located.path_names[:-1]) + [name]
    ensure_name_free(node.parent, name, path=new_path, exclude=node)
    old_path = located.path
    node.name, node.name_key = name, names.name_key(name)
    node.save(update_fields=["name", "name_key"])
    record(action=Action.FILE_RENAMED, actor=actor, target=node, target_label=names.join(new_path),
           space=located.space, details={"from": old_path, "to": names.join(new_path)})
    return located.moved(node, new_path)


def subtree_bytes(node: Node) -> int:
    """Bytes the node and everything below it count against a quota (all versions)."""
    total = FileVersion.objects.filter(node_id__in=subtree_ids(node)).aggregate(total=Sum("size"))["total"]
    return total or 0


@records_lock_refusals
@transaction.atomic
def node_move(*, actor, node_id, path: str, space_id=None, lock_tokens=()) -> Located:
    """Move (and maybe rename) a node to ``path``, in its space or another the
    actor can write; across spaces its bytes move between the quotas.

    Within a space a move changes the node's own row and nothing below it
    (the tree is a list of parents): its cost does not depend on what the
    folder holds (the index's copies of the paths below follow in a task).
    Across spaces everything below changes space: one set-based UPDATE per
    table (nodes, search rows) and one quota query, proportional to the subtree."""
    located = _writable(actor, node_id)
    node = located.node
    ensure_writable(located, actor=actor, tokens=lock_tokens, operation="move")
    destination = _destination(actor, space_id or node.space_id, path, keeping=node.name)
    _refuse_leaving_share(located, destination)
    space, parent, name, new_path = destination.space, destination.parent.node, destination.name, destination.path
    ensure_writable(destination.parent, actor=actor, tokens=lock_tokens, operation="add")
    _refuse_into_itself(node, parent)
    ensure_name_free(parent, name, path=new_path, exclude=node)
    from portal.governance.selectors import refuse_move_out  # governance builds on files

    refuse_move_out(node, to_space_id=space.pk, to_parent_id=parent.pk, label=node.name)
    old_path, old_space = located.path, located.space
    across = space.pk != old_space.pk
    if across:
        moved = subtree_bytes(node)
        locked = lock_spaces(old_space.pk, space.pk)
        charge_quota(locked[space.pk], moved)
        release_quota(locked[old_space.pk], moved)
        moved_ids = subtree_ids(node)
        Node.objects.filter(pk__in=moved_ids).update(space=space)
    node.parent, node.space, node.name, node.name_key = parent, space, name, names.name_key(name)
    # "space" only when it changed: saving it makes the index move the subtree's rows (search.receivers).
    node.save(update_fields=["parent", "name", "name_key", *(["space"] if across else [])])
    if across:  # links on what moved follow it (shares builds on files, hence the late import)
        from portal.shares.services import share_links_follow

        share_links_follow(actor=actor, node_ids=moved_ids, from_space=old_space, to_space=space)
    record(action=Action.FILE_MOVED, actor=actor, target=node, target_label=names.join(new_path), space=space,
           details={"from": old_path, "to": names.join(new_path), "from_space": old_space.pk})
    return destination.parent.moved(node, new_path)


def _copy_node(source: Node, *, space: Space, parent: Node, name: str, actor) -> Node:
    copy = Node.objects.create(space=space, parent=parent, kind=source.kind, name=name,
                               name_key=names.name_key(name), size=source.size, created_by=actor)
    if source.kind == NodeKind.FILE and source.current_version_id:
        # Lock the source version: the hashing task may be re-pointing it at a
        # deduplicated blob, and the copy must share the surviving one.
        version = FileVersion.objects.select_for_update().get(pk=source.current_version_id)
        copy.current_version = FileVersion.objects.create(node=copy, number=1, blob_id=version.blob_id,
                                                          size=version.size, created_by=actor)
        copy.save(update_fields=["current_version"])
    for child in source.children.filter(trashed_at__isnull=True):
        _copy_node(child, space=space, parent=copy, name=child.name, actor=actor)
    return copy


def _live_bytes(node: Node) -> int:
    """Bytes of the current versions of the live files in a subtree: what a copy adds."""
    total = node.size if node.kind == NodeKind.FILE else 0
    for child in node.children.filter(trashed_at__isnull=True):
        total += _live_bytes(child)
    return total


@records_lock_refusals
@transaction.atomic
def node_copy(*, actor, node_id, path: str, space_id=None, lock_tokens=()) -> Located:
    """Copy a node (current versions only) to ``path``; the copy shares the
    stored bytes, so it costs quota but no storage. Needs file.read on the
    source and file.write on the destination."""
    located = locate_node(actor, node_id, Cap.FILE_READ)
    source = located.node
    if source.is_root:
        raise InvalidInput(gettext("Copy a space's folders and files, not its root."), code="root_folder")
    destination = _destination(actor, space_id or source.space_id, path, keeping=source.name)
    space, parent, name, new_path = destination.space, destination.parent.node, destination.name, destination.path
    ensure_writable(destination.parent, actor=actor, tokens=lock_tokens, operation="add")
    _refuse_into_itself(source, parent)
    ensure_name_free(parent, name, path=new_path)
    charge_quota(lock_spaces(space.pk)[space.pk], _live_bytes(source))
    copy = _copy_node(source, space=space, parent=parent, name=name, actor=actor)
    record(action=Action.FILE_COPIED, actor=actor, target=copy, target_label=names.join(new_path), space=space,
           details={"from": located.path, "from_space": source.space_id, "source_id": source.id})
    return destination.parent.moved(copy, new_path)


@records_lock_refusals
@transaction.atomic
def node_trash(*, actor, node_id, lock_tokens=()) -> Located:
    """Move a node (and what it holds) to the trash; restorable until purged."""
    located = _writable(actor, node_id)
    node = located.node
    ensure_writable(located, actor=actor, tokens=lock_tokens, operation="delete")
    node.trashed_at, node.trashed_by = timezone.now(), actor
    node.save(update_fields=["trashed_at", "trashed_by"])
    record(action=Action.FILE_DELETED, actor=actor, target=node, target_label=located.path, space=located.space)
    return located


@transaction.atomic
def trash_restore(*, actor, node_id, path: str | None = None) -> Located:
    """Bring a node back to where it was, or to ``path`` (needed when the
    original folder is gone or its name is taken there)."""
    located = locate_trashed(actor, node_id, Cap.FILE_WRITE)
    node = located.node
    refuse_archived(node.space)
    if path is not None:
        destination = _destination(actor, node.space_id, path, keeping=node.name)
        parent, name, new_path = destination.parent.node, destination.name, destination.path
        _refuse_into_itself(node, parent)
        if parent.pk != node.parent_id:  # a move out of a hold or retention, as node_move refuses it
            from portal.governance.selectors import refuse_move_out  # governance builds on files

            refuse_move_out(node, to_space_id=node.space_id, to_parent_id=parent.pk, label=node.name)
    else:
        parent, name = node.parent, node.name
        try:
            new_path = path_names_of(parent) + [name]
        except NotFound:
            raise Conflict(gettext("The folder this item was in is gone; restore it to another folder by giving a path."),
                           code="original_folder_gone") from None
    ensure_name_free(parent, name, path=new_path)
    node.parent, node.name, node.name_key = parent, name, names.name_key(name)
    node.trashed_at = node.trashed_by = None
    node.save(update_fields=["parent", "name", "name_key", "trashed_at", "trashed_by"])
    record(action=Action.FILE_RESTORED, actor=actor, target=node, target_label=names.join(new_path),
           space=node.space)
    return located.moved(node, new_path)


def purge(node: Node, *, actor, action: str = Action.FILE_PURGED, protected=None) -> int:
    """Delete a trashed node, its subtree and all their versions for good;
    the bytes leave the quota now and the store once no version shares them.
    Refused (UnderLegalHold, UnderRetention) when governance protects any of
    it; batch callers pass the ``protected`` they resolved once for the batch."""
    from portal.governance.selectors import protection, refuse_purge  # governance builds on files

    ids = subtree_ids(node)
    refuse_purge(protection(ids) if protected is None else protected, label=node.name or "/", node_ids=ids)
    space = lock_spaces(node.space_id)[node.space_id]
    freed = subtree_bytes(node)
    label, node_id = node.name, node.pk
    Node.objects.filter(pk__in=ids).update(current_version=None)
    node.delete()
    release_quota(space, freed)
    record(action=action, actor=actor, target_label=label, space=space,
           details={"node_id": node_id, "bytes": freed})
    schedule_blob_collection()
    return freed


@transaction.atomic
def trash_purge(*, actor, node_id) -> int:
    """Managers and owners purge an item from the trash for good."""
    return purge(locate_trashed(actor, node_id, Cap.TRASH_PURGE).node, actor=actor)


@transaction.atomic
def trash_purge_expired(*, older_than) -> int:
    """The system purges what has been in the trash since before ``older_than``
    (up to 500 items a call). What a legal hold or a retention keeps is
    skipped (it stays in the trash), resolved once per batch of 500."""
    from portal.governance.selectors import protection

    count, after = 0, None
    expired = Node.objects.filter(trashed_at__lt=older_than).order_by("trashed_at", "id")
    while count < 500:
        page = expired if after is None else expired.filter(
            models.Q(trashed_at__gt=after[0]) | models.Q(trashed_at=after[0], pk__gt=after[1]))
        batch = list(page.values_list("pk", "trashed_at", "kind")[:500])
        if not batch:
            break
        after = batch[-1][1], batch[-1][0]
        subtrees = {pk: [pk, *(walk.descendant_ids(pk, live_only=False) if kind == NodeKind.FOLDER else [])]
                    for pk, _, kind in batch}
        found = protection({pk for ids in subtrees.values() for pk in ids})
        blocked = found.blocked_nodes()
        for node_id, ids in subtrees.items():
            if blocked.intersection(ids):
                continue
            # Purging a folder takes what it holds along: skip those already gone.
            node = Node.objects.select_for_update(skip_locked=True).filter(pk=node_id).first()
            if node is not None:
                purge(node, actor=None, protected=found)
                count += 1
    return count
