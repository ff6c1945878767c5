"""Restore a space or a folder to a point in time: preview, then apply as new
versions, moves and trash restores (nothing overwritten, nothing purged).

Managers and owners of the space, and administrators (Cap.POINT_RESTORE).
The plan is portal.files.point_in_time.plan_build; the rules are in
docs/restore.md. The apply recomputes the plan, then works in transactions
of BATCH changes, each with the usual per-file events, and ends with one
space.restored_to_point / folder.restored_to_point event with the counts.
Running it twice changes nothing the second time: the plan is then empty.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import dateparse, timezone
from django.utils.translation import gettext

from portal.audit.actions import Action
from portal.audit.models import Outcome
from portal.audit.services import record
from portal.core.access import Cap
from portal.core.errors import Conflict, InvalidInput, NotFound, PortalError
from portal.files import names
from portal.files.models import FileVersion, Node, NodeKind, PointRestore, RestoreState
from portal.files.point_in_time import (CONTENT, PLACE, TRASH, UNTRASH, Change, LockCheck, Plan, live_locks,
                                        plan_build)
from portal.files.selectors import child_named, node_at, path_names_of
from portal.files.services.direct import free_name
from portal.spaces.quota import charge_quota, check_quota, lock_spaces, refuse_archived
from portal.spaces.selectors import SpaceAccess, space_access
from portal.outbox.services import enqueue

BATCH = 200          # changes per transaction
INLINE_CHANGES = 200  # up to this many, the apply runs in the request; more go to a Celery task
# Refusals of a move by portal.governance (legal_hold_move, retention_move): the item stays, reported as held.
GOVERNANCE_REFUSALS = frozenset({"legal_hold_move", "retention_move"})


def parse_at(value) -> datetime:
    """T from ISO 8601 text ("2026-12-03T04:00", with or without an offset;
    without one it is in the reader's time zone). Refuses the future."""
    parsed = None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and value.strip():
        try:
            parsed = dateparse.parse_datetime(value.strip())
        except ValueError:
            parsed = None
    if parsed is None:
        raise InvalidInput(gettext("Give the time as a date and time, for example 2026-03-01T09:30."),
                           code="invalid_time")
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    if parsed >= timezone.now():
        raise InvalidInput(gettext("The time to restore to must be in the past."), code="time_in_future")
    return parsed


def _target(actor, space_id, *, folder_id=None, path: str | None = None) -> tuple[SpaceAccess, Node]:
    """The space (checked) and the live folder to restore: the root unless a folder id or path is given."""
    access = space_access(actor, space_id, Cap.POINT_RESTORE)
    refuse_archived(access.space)
    if folder_id not in (None, ""):
        folder = Node.objects.filter(pk=folder_id, space=access.space, trashed_at__isnull=True).first()
        if folder is None or not _live(folder):
            raise NotFound(gettext("No such folder in this space."))
    else:
        folder, _ = node_at(access.space, names.split_path(path or "", existing=True))
    if folder.kind != NodeKind.FOLDER:
        raise InvalidInput(gettext("Only a space or a folder can be restored to a point in time."), code="not_a_folder")
    return access, folder


def _live(folder: Node) -> bool:
    try:
        path_names_of(folder)
    except NotFound:
        return False
    return True


def _plan(actor, access: SpaceAccess, folder: Node, at: datetime) -> Plan:
    if folder.created_at > at and folder.parent_id is None:
        raise InvalidInput(gettext("This space did not exist yet at that time."), code="folder_not_there")
    if folder.created_at > at:
        raise InvalidInput(gettext("This folder did not exist at that time; restore the folder above it."),
                           code="folder_not_there")
    return plan_build(space_id=access.space.pk, folder=folder, at=at, actor=actor)


def point_restore_preview(*, actor, space_id, at, folder_id=None, path: str | None = None) -> Plan:
    """Managers, owners and administrators: what a restore to ``at`` would change (changes nothing)."""
    access, folder = _target(actor, space_id, folder_id=folder_id, path=path)
    return _plan(actor, access, folder, parse_at(at))


def point_restore_start(*, actor, space_id, at, folder_id=None, path: str | None = None,
                        queue: bool | None = None) -> PointRestore:
    """Managers, owners and administrators apply a restore: a small one now,
    a large one (more than INLINE_CHANGES changes, or ``queue``) by the
    Celery task files.point_restore, whose progress the run shows."""
    access, folder = _target(actor, space_id, folder_id=folder_id, path=path)
    at = parse_at(at)
    plan = _plan(actor, access, folder, at)
    check_quota(access.space, plan.bytes_needed)
    run = PointRestore.objects.create(space=access.space, folder=folder, at=at, created_by=actor,
                                      total=len(plan.changes))
    if queue or (queue is None and len(plan.changes) > INLINE_CHANGES):
        from portal.files.tasks import point_restore

        enqueue(point_restore, run.pk)
        return run
    return point_restore_run(run_id=run.pk)


def point_restore_run(*, run_id) -> PointRestore:
    """The apply of a run (inline or the Celery task; safe to run twice): the
    rights are checked again, the plan made again, then applied batch by batch."""
    run = PointRestore.objects.select_related("space", "folder", "created_by").get(pk=run_id)
    if run.state in (RestoreState.DONE, RestoreState.FAILED):
        return run
    actor = run.created_by
    counts = {kind: 0 for kind in (TRASH, UNTRASH, PLACE, CONTENT)} | {"collisions": 0, "skipped": 0, "locked": 0}
    try:
        access, folder = _target(actor, run.space_id, folder_id=run.folder_id)
        plan = _plan(actor, access, folder, run.at)
        check_quota(access.space, plan.bytes_needed)
        counts["skipped"], counts["locked"] = len(plan.skipped), plan.counts["locked"]
        PointRestore.objects.filter(pk=run.pk).update(state=RestoreState.RUNNING, total=len(plan.changes), done=0)
        for start in range(0, len(plan.changes), BATCH):
            batch = plan.changes[start:start + BATCH]
            with transaction.atomic():
                _apply_batch(actor, plan, batch, run, counts)
            PointRestore.objects.filter(pk=run.pk).update(done=start + len(batch), counts=counts)
    except PortalError as exc:
        _finish(run, actor, counts, outcome=Outcome.FAILURE, error=exc.message)
        raise
    return _finish(run, actor, counts, outcome=Outcome.SUCCESS, folder_path=plan.folder_path)


@transaction.atomic
def _finish(run: PointRestore, actor, counts: dict, *, outcome: str, error: str = "",
            folder_path: str | None = None) -> PointRestore:
    changed = sum(counts[kind] for kind in (TRASH, UNTRASH, PLACE, CONTENT))
    details = {"at": run.at.isoformat(), "changed": changed, **counts, "run": run.pk}
    if error:
        details["error"] = error
    whole = run.folder.parent_id is None
    record(action=Action.SPACE_RESTORED_TO_POINT if whole else Action.FOLDER_RESTORED_TO_POINT, actor=actor,
           target=run.space if whole else run.folder,
           target_label=run.space.name if whole else (folder_path if folder_path is not None else run.folder.name),
           space=run.space, outcome=outcome, details=details)
    run.refresh_from_db(fields=["total", "done"])
    run.state = RestoreState.DONE if outcome == Outcome.SUCCESS else RestoreState.FAILED
    run.counts, run.error, run.finished_at = counts, error[:500], timezone.now()
    run.save(update_fields=["state", "counts", "error", "finished_at"])
    return run


def _apply_batch(actor, plan: Plan, batch: list[Change], run: PointRestore, counts: dict) -> None:
    """One transaction: the space row locked (quota, and no writer in between),
    the batch's nodes locked and checked against the plan, locks read again."""
    from portal.governance.selectors import purge_guard  # governance builds on files

    purge_guard()  # the holds are read below (moves out of them are refused): before the row locks, no deadlock
    space = lock_spaces(plan.space_id)[plan.space_id]
    nodes = {node.pk: node for node in Node.objects.select_for_update().filter(
        pk__in=[change.node_id for change in batch], space_id=plan.space_id)}
    check = LockCheck(plan.items, live_locks(plan.space_id), actor)
    for change in batch:
        node, item = nodes.get(change.node_id), plan.items[change.node_id]
        if node is None or not _as_planned(node, item, change):
            counts["skipped"] += 1
            continue
        if check.blocked(item, whole=change.kind != CONTENT) or (
                change.kind in (PLACE, UNTRASH) and check.adding_to(change.parent_id)):  # as the plan checks them
            counts["skipped"] += 1
            counts["locked"] += 1
            continue
        if change.kind == TRASH:
            _trash(node, change, actor, space, run)
        elif change.kind == CONTENT:
            _new_version(node, change, actor, space, run)
        else:
            # Its folder at T, still in this space (under the space's lock: a move to another space waits for it).
            parent = Node.objects.filter(pk=change.parent_id, space_id=plan.space_id).first()
            if parent is None:  # it left the space (or was purged) since the plan: the item stays where it is
                counts["skipped"] += 1
                continue
            try:
                counts["collisions"] += _put_back(node, parent, change, actor, space, run)
            except Conflict as refused:  # a legal hold or retention keeps it where it is (nothing written yet)
                if refused.code not in GOVERNANCE_REFUSALS:
                    raise
                counts["skipped"] += 1
                counts["held"] = counts.get("held", 0) + 1
                continue
        counts[change.kind] += 1


def _as_planned(node: Node, item, change: Change) -> bool:
    if change.kind == CONTENT:
        return node.current_version_id == item.version_id
    return (node.parent_id, node.name, node.trashed_at is not None) == (item.parent, item.name, item.trashed)


def _trash(node: Node, change: Change, actor, space, run: PointRestore) -> None:
    node.trashed_at, node.trashed_by = timezone.now(), actor
    node.save(update_fields=["trashed_at", "trashed_by"])
    record(action=Action.FILE_DELETED, actor=actor, target=node, target_label=change.path, space=space,
           details={"restore": run.pk})


def _put_back(node: Node, parent: Node, change: Change, actor, space, run: PointRestore) -> int:
    """Back to its folder (``parent``) and name at T (and out of the trash); 1 if the name was taken there.
    A move out of what a legal hold or retention covers is refused as node_move refuses it."""
    if node.parent_id != parent.pk:
        from portal.governance.selectors import refuse_move_out  # governance builds on files

        refuse_move_out(node, to_space_id=space.pk, to_parent_id=parent.pk, label=node.name)
    name = change.name
    existing = child_named(parent, name)
    if existing is not None and existing.pk != node.pk:
        name = free_name(parent, name)
    to = names.join(change.to.split("/")[:-1] + [name]) if change.to else name
    moved = node.parent_id != parent.pk
    node.parent, node.name, node.name_key = parent, name, names.name_key(name)
    fields = ["parent", "name", "name_key"]
    if node.trashed_at is not None:
        node.trashed_at = node.trashed_by = None
        fields += ["trashed_at", "trashed_by"]
    node.save(update_fields=fields)
    details = {"from": change.path, "to": to, "restore": run.pk}
    if change.kind == UNTRASH:
        action = Action.FILE_RESTORED
    else:
        action = Action.FILE_MOVED if moved else Action.FILE_RENAMED
        if moved:
            details["from_space"] = space.pk
    record(action=action, actor=actor, target=node, target_label=to, space=space, details=details)
    return int(change.collision or name != change.name)


def _new_version(node: Node, change: Change, actor, space, run: PointRestore) -> None:
    """The version current at T becomes the newest, sharing its stored bytes (as version_restore does)."""
    old = FileVersion.objects.select_for_update().get(pk=change.version_id)  # the hashing task may re-point its blob
    charge_quota(space, old.size)
    latest = node.versions.order_by("-number").values_list("number", flat=True).first() or 0
    version = FileVersion.objects.create(node=node, number=latest + 1, blob_id=old.blob_id, size=old.size,
                                         created_by=actor, restored_from=old.number)
    node.current_version, node.size, node.modified_at = version, version.size, version.created_at
    node.save(update_fields=["current_version", "size", "modified_at"])
    record(action=Action.FILE_VERSION_RESTORED, actor=actor, target=node, target_label=change.path, space=space,
           details={"restored": old.number, "version": version.number, "restore": run.pk})


def point_restore_get(actor, run_id) -> PointRestore:
    """A run, for whoever may restore its space (the same NotFound for others)."""
    run = PointRestore.objects.select_related("space", "folder").filter(pk=run_id).first()
    if run is None:
        raise NotFound(gettext("No such restore."))
    try:
        space_access(actor, run.space_id, Cap.POINT_RESTORE)
    except PortalError:
        raise NotFound(gettext("No such restore.")) from None
    return run


def plan_out(plan: Plan, *, limit: int = 500) -> dict:
    """The plan as the API and the page show it: counts and up to ``limit`` changes and skips."""
    return {
        "space": plan.space_id, "folder": plan.folder_id, "folder_path": plan.folder_path, "at": plan.at,
        "counts": plan.counts, "bytes_needed": plan.bytes_needed,
        "changes": [change.as_dict() for change in plan.changes[:limit]],
        "skipped": [change.as_dict() for change in plan.skipped[:limit]],
        "truncated": len(plan.changes) > limit or len(plan.skipped) > limit,
    }


def run_out(run: PointRestore) -> dict:
    return {"id": run.pk, "space": run.space_id, "folder": run.folder_id, "at": run.at, "state": run.state,
            "total": run.total, "done": run.done, "counts": run.counts, "error": run.error,
            "created_at": run.created_at, "finished_at": run.finished_at}
