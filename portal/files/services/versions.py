"""File versions: restore an old one, and prune by the space's retention."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.translation import gettext

from portal.audit.actions import Action
from portal.audit.services import record
from portal.core.access import Cap
from portal.core.errors import InvalidInput, NotFound
from portal.files.models import FileVersion, Node, NodeKind
from portal.files.selectors import Located, locate_node
from portal.files.services.common import schedule_blob_collection
from portal.locks.selectors import ensure_writable
from portal.locks.services import records_lock_refusals
from portal.spaces.quota import charge_quota, lock_spaces, refuse_archived, release_quota


def locate_file(actor, node_id, cap: Cap = Cap.FILE_READ) -> Located:
    """A file (not a folder) the actor may use with ``cap``."""
    located = locate_node(actor, node_id, cap)
    if located.node.kind != NodeKind.FILE:
        raise InvalidInput(gettext("%(path)s is a folder; folders have no versions.") % {"path": located.path}, code="not_a_file")
    return located


def version_get(node: Node, number=None) -> FileVersion:
    if number is None:
        if node.current_version is None:
            raise NotFound(gettext("This file has no content yet."))
        return node.current_version
    try:
        number = int(number)
    except (TypeError, ValueError):
        raise InvalidInput(gettext("version must be a whole number."), code="invalid_version") from None
    version = node.versions.select_related("blob").filter(number=number).first()
    if version is None:
        raise NotFound(gettext("Version %(number)s of this file does not exist (or was pruned).") % {"number": number})
    return version


@records_lock_refusals
@transaction.atomic
def version_restore(*, actor, node_id, number, lock_tokens=()) -> FileVersion:
    """Editors make an old version current again, as a new version."""
    located = locate_file(actor, node_id, Cap.FILE_WRITE)
    node = located.node
    refuse_archived(located.space)
    old = version_get(node, number)
    ensure_writable(located, actor=actor, tokens=lock_tokens, operation="restore")
    space = lock_spaces(node.space_id)[node.space_id]
    charge_quota(space, old.size)
    latest = node.versions.order_by("-number").values_list("number", flat=True).first() or 0
    # Lock the old version: the hashing task may be re-pointing its blob.
    blob_id = FileVersion.objects.select_for_update().get(pk=old.pk).blob_id
    version = FileVersion.objects.create(node=node, number=latest + 1, blob_id=blob_id, size=old.size,
                                         created_by=actor, restored_from=old.number)
    node.current_version, node.size, node.modified_at = version, version.size, version.created_at
    node.save(update_fields=["current_version", "size", "modified_at"])
    record(action=Action.FILE_VERSION_RESTORED, actor=actor, target=node, target_label=located.path,
           space=space, details={"restored": old.number, "version": version.number})
    return version


@transaction.atomic
def versions_prune(*, space_id) -> int:
    """The system removes versions the space's retention no longer keeps
    (never a file's current version). Returns how many went."""
    from portal.governance.selectors import purge_guard  # governance builds on files

    purge_guard()  # before the space's row lock: a hold being made (which locks rows it names) goes first
    space = lock_spaces(space_id)[space_id]
    ranked = (FileVersion.objects.filter(node__space=space)
              .annotate(rank=Window(RowNumber(), partition_by=[F("node_id")], order_by=F("number").desc()))
              .values("pk", "node_id", "rank", "created_at", "size", "node__current_version"))
    doomed = [v for v in ranked if v["pk"] != v["node__current_version"] and _matches(v, space)]
    if doomed:  # what a legal hold or a retention keeps stays: one resolution for the whole space's batch
        from portal.governance.selectors import protection  # governance builds on files

        found = protection({v["node_id"] for v in doomed})
        doomed = [v for v in doomed if not found.version_blocked(v["pk"], v["node_id"])]
    if not doomed:
        return 0
    FileVersion.objects.filter(pk__in=[v["pk"] for v in doomed]).delete()
    freed = sum(v["size"] for v in doomed)
    release_quota(space, freed)
    record(action=Action.FILE_VERSIONS_PRUNED, actor=None, target=space, space=space,
           details={"versions": len(doomed), "bytes": freed})
    schedule_blob_collection()
    return len(doomed)


def _matches(row: dict, space) -> bool:
    keep = space.keep_versions if space.keep_versions is not None else settings.KEEP_VERSIONS
    days = space.keep_version_days if space.keep_version_days is not None else settings.KEEP_VERSION_DAYS
    too_many = bool(keep) and row["rank"] > keep
    too_old = bool(days) and row["created_at"] < timezone.now() - timedelta(days=days)
    return too_many or too_old
