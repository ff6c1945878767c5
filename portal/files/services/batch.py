"""Many whole files at once, already in the store: one transaction makes
them versions (an import writes thousands of files a minute; one
transaction, one quota lock and a few statements per batch instead of per
file).

Each file is checked exactly as ``file_put`` checks it (the right to write,
under the space's row lock; names, size, quota, locks, a folder in the
way); a file that fails is refused alone, with the error ``file_put`` would
have raised, and the others go in. What follows a new version (hashing,
scanning, the search index, notifications) is queued once per batch.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Hashable

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from portal.audit.actions import Action
from portal.audit.services import record_many
from portal.core.access import Cap
from portal.core.bulk import rows_create, rows_update
from portal.core.errors import Conflict, PortalError, QuotaExceeded
from portal.core.tasks import fan_out
from portal.files import names
from portal.files.models import Blob, FileVersion, Node, NodeKind
from portal.files.selectors import path_walk
from portal.files.services.common import refuse_too_large
from portal.files.services.tree import ensure_folders
from portal.files.services.uploads import refuse_locked
from portal.locks.selectors import any_live_lock_in_space
from portal.scanning.services import scan_queue_many
from portal.spaces.quota import charge_quota, check_quota, lock_spaces, refuse_archived
from portal.spaces.selectors import space_access


@dataclass(frozen=True)
class StoredFile:
    """A file whose bytes are in the store under ``key`` (``size`` bytes,
    their ``sha256`` as the sender computed it, or ""), to become the next
    version of the file at ``path``. ``tag``: the caller's name for it."""

    tag: Hashable
    path: str
    key: str
    size: int
    sha256: str = ""
    modified_at: datetime | None = None


@dataclass
class BatchResult:
    made: dict = field(default_factory=dict)      # tag -> FileVersion
    refused: dict = field(default_factory=dict)   # tag -> PortalError

    def keys_to_remove(self, files: list[StoredFile]) -> list[str]:
        """The objects of the refused files: they never became versions."""
        return [stored.key for stored in files if stored.tag in self.refused]


@dataclass
class _Planned:
    stored: StoredFile
    path_names: list[str]
    parent: Node | None = None
    node: Node | None = None   # an existing file (a new version of it), else None until made
    number: int = 1
    first: "_Planned | None" = None   # the same name earlier in the batch: that plan makes the node


def files_put_many(*, actor, space_id: int, files: list[StoredFile], details: dict | None = None) -> BatchResult:
    """An editor's ``files`` become versions in one transaction (joined when
    the caller has one open: its own writes commit or roll back with the
    versions). Refusals of the whole batch (no right to write any more, an
    archived space) are raised; a single file's are returned. The objects of
    refused files are the caller's to remove (``keys_to_remove``)."""
    result = BatchResult()
    with transaction.atomic():
        space = lock_spaces(space_id)[space_id]
        # Under the space's row lock that member changes take too: the right to write, now.
        access = space_access(actor, space.pk, Cap.FILE_WRITE)
        refuse_archived(space)
        planned = _parse(files, result)
        _place(space, actor, access, planned, result)
        _charge(space, planned, result)
        accepted = [plan for plan in planned if plan.stored.tag not in result.refused]
        if accepted:
            _write(space, actor, accepted, result, details or {})
    return result


def _refuse(result: BatchResult, plan_or_file, error: PortalError) -> None:
    stored = plan_or_file.stored if isinstance(plan_or_file, _Planned) else plan_or_file
    result.refused[stored.tag] = error


def _parse(files: list[StoredFile], result: BatchResult) -> list[_Planned]:
    planned = []
    for stored in files:
        try:
            path_names = names.split_path(stored.path, existing=True)
            if not path_names:
                raise PortalError(gettext("The path must end with the file's name."), code="invalid_path")
            refuse_too_large(stored.size)
        except PortalError as refused:
            _refuse(result, stored, refused)
            continue
        planned.append(_Planned(stored=stored, path_names=path_names))
    return planned


def _place(space, actor, access, planned: list[_Planned], result: BatchResult) -> None:
    """Each file's folder (made when missing, once per folder) and the file
    already there, if any; the same checks as version_add, in bulk."""
    by_folder: dict[tuple, list[_Planned]] = defaultdict(list)
    for plan in planned:
        by_folder[tuple(names.name_key(name) for name in plan.path_names[:-1])].append(plan)
    locks_possible = any_live_lock_in_space(space.pk)
    for group in by_folder.values():
        folder_names = group[0].path_names[:-1]
        try:
            chain = path_walk(space, folder_names)
            for new in folder_names[len(chain) - 1:]:   # new folder names obey every rule
                names.clean_name(new)
            parent, parent_names, _ = ensure_folders(space, folder_names, actor, chain=chain)
        except PortalError as refused:
            for plan in group:
                _refuse(result, plan, refused)
            continue
        for plan in group:
            plan.parent, plan.path_names = parent, [*parent_names, plan.path_names[-1]]
    placed = [plan for plan in planned if plan.parent is not None]
    existing = _existing(placed)
    made_here: dict[tuple, _Planned] = {}
    for plan in placed:
        spot = (plan.parent.pk, names.name_key(plan.path_names[-1]))
        node = existing.get(spot)
        try:
            if node is not None and node.is_folder:
                raise Conflict(gettext("%(path)s is now a folder.") % {"path": names.join(plan.path_names)},
                               code="is_a_folder")
            if node is None:
                names.clean_name(plan.path_names[-1])
            if locks_possible:
                refuse_locked(actor, access, _chain_to(space, plan), plan.path_names, ())
        except PortalError as refused:
            _refuse(result, plan, refused)
            continue
        earlier = made_here.get(spot)   # the same name twice in one batch: the second is the next version
        if earlier is not None:
            plan.first, plan.number = earlier.first or earlier, earlier.number + 1
            plan.node, plan.path_names = earlier.node, earlier.path_names
        elif node is not None:
            plan.node = node
            plan.number = (node.current_version.number if node.current_version_id else 0) + 1
            plan.path_names = [*plan.path_names[:-1], node.name]
        made_here[spot] = plan


def _chain_to(space, plan: _Planned) -> list[Node]:
    return path_walk(space, plan.path_names, hold=True)


def _existing(placed: list[_Planned]) -> dict[tuple, Node]:
    """(folder id, name key) -> the live node there, for every planned name, in one query."""
    if not placed:
        return {}
    wanted = Q()
    by_parent: dict[int, set[str]] = defaultdict(set)
    for plan in placed:
        by_parent[plan.parent.pk].add(names.name_key(plan.path_names[-1]))
    for parent_id, keys in by_parent.items():
        wanted |= Q(parent_id=parent_id, name_key__in=sorted(keys))
    nodes = Node.objects.filter(wanted, trashed_at__isnull=True).select_related("current_version")
    return {(node.parent_id, node.name_key): node for node in nodes}


def _charge(space, planned: list[_Planned], result: BatchResult) -> None:
    """Files in their order until the quota is full; the rest are refused as file_put would refuse them."""
    total = 0
    for plan in planned:
        if plan.stored.tag in result.refused:
            continue
        if plan.first is not None and plan.first.stored.tag in result.refused:   # its file was not made
            _refuse(result, plan, result.refused[plan.first.stored.tag])
            continue
        try:
            check_quota(space, total + plan.stored.size)
        except QuotaExceeded:
            try:
                check_quota(space, plan.stored.size)  # the message file_put gives: about this file alone
            except QuotaExceeded as refused:
                _refuse(result, plan, refused)
                continue
            _refuse(result, plan, QuotaExceeded(gettext("The space's quota was used up by the files before this one."),
                                                detail={"quota": space.quota_bytes, "needed": plan.stored.size}))
            continue
        total += plan.stored.size
    charge_quota(space, total)


def _write(space, actor, accepted: list[_Planned], result: BatchResult, details: dict) -> None:
    now = timezone.now()
    fresh = [plan for plan in accepted if plan.node is None and plan.first is None]
    nodes = rows_create([
        Node(space=space, parent=plan.parent, kind=NodeKind.FILE, name=plan.path_names[-1],
             name_key=names.name_key(plan.path_names[-1]), created_by=actor, created_at=now, modified_at=now)
        for plan in fresh])
    for plan, node in zip(fresh, nodes):
        plan.node = node
    for plan in accepted:   # a second version, in this batch, of a file made in it
        if plan.node is None:
            plan.node = plan.first.node
    blobs = rows_create([Blob(key=plan.stored.key, size=plan.stored.size, expected_sha256=plan.stored.sha256,
                              created_at=now) for plan in accepted])
    versions = rows_create([
        FileVersion(node=plan.node, number=plan.number, blob=blob, size=plan.stored.size, created_by=actor,
                    created_at=now) for plan, blob in zip(accepted, blobs)])
    latest: dict[int, tuple[Node, FileVersion, _Planned]] = {}
    for plan, version in zip(accepted, versions):
        latest[plan.node.pk] = (plan.node, version, plan)
        result.made[plan.stored.tag] = version
    changed = []
    for node, version, plan in latest.values():
        node.current_version, node.size = version, version.size
        node.modified_at = plan.stored.modified_at or now
        changed.append(node)
    rows_update(changed, ["current_version", "size", "modified_at"])
    labels = {version.pk: names.join(plan.path_names) for plan, version in zip(accepted, versions)}
    record_many([dict(action=Action.FILE_UPLOADED, actor=actor, target=plan.node, target_label=labels[version.pk],
                      space=space, details={"version": version.number, "size": version.size, **details})
                 for plan, version in zip(accepted, versions)])
    scan_queue_many(versions, labels=labels)
    node_ids, version_ids = [node.pk for node in changed], [node.current_version_id for node in changed]
    blob_ids = [blob.pk for blob in blobs]
    fan_out("files.hash_blob", blob_ids)
    fan_out("search.index_node", node_ids)
    fan_out("search.index_version", version_ids)
