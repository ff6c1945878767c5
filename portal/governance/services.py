"""Writes for legal holds and retention policies. Administrators only; each
change is one transaction with its audit event (a hold's reason is mandatory,
and recorded). The end-of-retention task is the system's."""

from __future__ import annotations


from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from portal.audit.actions import Action
from portal.audit.services import record
from portal.core.access import require_admin
from portal.core.errors import InvalidInput, NotFound
from portal.core.validation import whole_number
from portal.files import names, walk
from portal.files.models import Node, NodeKind
from portal.governance.models import (MAX_RETENTION_DAYS, EndAction, HoldKind, LegalHold, RetentionPolicy,
                                      ReviewItem)
from portal.governance.selectors import protection_change_guard
from portal.spaces.models import Space
from portal.outbox.services import enqueue

MAX_REASON = 2000


def _multiline_reason(value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(gettext("Give a reason: it is kept in the audit log."), code="reason_required",
                           detail={"field": "reason"})
    value = value.strip()
    if len(value) > MAX_REASON:
        raise InvalidInput(gettext("The reason is too long (at most %(max)s characters).") % {"max": MAX_REASON},
                           detail={"field": "reason"})
    return value


def _id(value, field: str) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    return whole_number(value, field=field, minimum=1)


def node_label(node: Node) -> str:
    steps = walk.walk_up(node.pk)
    return f"{node.space.name}:{names.join([step.name for step in steps[1:]])}"


def _hold_target(kind: str, target_id) -> dict:
    pk = _id(target_id, "target")
    if kind == HoldKind.USER:
        user = get_user_model().objects.filter(pk=pk).first()
        if user is None:
            raise NotFound(gettext("No such user."))
        return {"user": user, "target_label": user.get_username()}
    if kind == HoldKind.SPACE:
        space = Space.objects.filter(pk=pk).first()
        if space is None:
            raise NotFound(gettext("No such space."))
        return {"space": space, "target_label": space.name}
    if kind == HoldKind.FOLDER:
        node = Node.objects.select_related("space").filter(pk=pk).first()
        if node is None:
            raise NotFound(gettext("No such file or folder."))
        return {"node": node, "space": node.space, "target_label": node_label(node)}
    raise InvalidInput(gettext("A hold is on a user, a space or a folder (kind: user, space or folder)."),
                       code="invalid_kind", detail={"field": "kind"})


def _hold_event(hold: LegalHold) -> dict:
    target = hold.user or hold.node or hold.space
    return {"target": target, "target_label": f"{hold.get_kind_display()} {hold.target_label}",
            "space": hold.space if hold.kind != HoldKind.USER else None}


def _queue_store_flags(hold: LegalHold) -> None:
    """The store's own Object Lock flags, best effort, off the request (storeflags.py)."""
    from portal.governance.tasks import flag_hold_objects

    enqueue(flag_hold_objects, hold.pk)


@transaction.atomic
def hold_create(*, actor, kind: str, target_id, reason: str) -> LegalHold:
    """An administrator puts a user (all they created or own, their devices'
    backups), a space or a folder (its subtree) under a legal hold: from now on
    nothing under it can be purged, by anyone, until it is released."""
    require_admin(actor, gettext("Only administrators manage legal holds and retention."))
    protection_change_guard()  # a purge running now finishes first; later ones see this hold
    reason = _multiline_reason(reason)
    hold = LegalHold(kind=kind, reason=reason, created_by=actor, store_flag="pending", **_hold_target(kind, target_id))
    hold.save()
    _queue_store_flags(hold)
    record(action=Action.GOVERNANCE_HOLD_CREATED, actor=actor, **_hold_event(hold),
           details={"hold_id": hold.pk, "kind": kind, "reason": reason})
    return hold


@transaction.atomic
def hold_release(*, actor, hold_id, reason: str) -> LegalHold:
    """An administrator releases an active hold (the data becomes purgeable again)."""
    require_admin(actor, gettext("Only administrators manage legal holds and retention."))
    reason = _multiline_reason(reason)
    hold = LegalHold.objects.select_for_update().filter(pk=_id(hold_id, "hold"), released_at__isnull=True).first()
    if hold is None:
        raise NotFound(gettext("No such active legal hold."))
    hold.released_at, hold.released_by, hold.release_reason = timezone.now(), actor, reason
    hold.store_flag = "pending" if hold.store_flag.startswith("flagged") else hold.store_flag
    hold.save(update_fields=["released_at", "released_by", "release_reason", "store_flag"])
    if hold.store_flag == "pending":
        _queue_store_flags(hold)
    record(action=Action.GOVERNANCE_HOLD_RELEASED, actor=actor, **_hold_event(hold),
           details={"hold_id": hold.pk, "kind": hold.kind, "reason": reason})
    return hold


def _retention_target(space_id, node_id) -> tuple[Space, Node | None, str]:
    space = Space.objects.filter(pk=_id(space_id, "space")).first()
    if space is None:
        raise NotFound(gettext("No such space."))
    if node_id in (None, ""):
        return space, None, space.name
    node = Node.objects.select_related("space").filter(pk=_id(node_id, "folder"), space=space).first()
    if node is None or node.kind != NodeKind.FOLDER:
        raise NotFound(gettext("No such folder in this space."))
    if node.is_root:
        raise InvalidInput(gettext("Set the retention of a space's root on the space itself."), code="root_folder",
                           detail={"field": "folder"})
    return space, node, node_label(node)


@transaction.atomic
def retention_set(*, actor, space_id, node_id=None, days, end_action: str = EndAction.NONE) -> RetentionPolicy:
    """An administrator makes a space (or a folder's subtree) keep every
    version at least ``days`` days; ``end_action`` says what happens after."""
    require_admin(actor, gettext("Only administrators manage legal holds and retention."))
    protection_change_guard()  # as for holds: no purge reads the policies while one is being set
    space, node, label = _retention_target(space_id, node_id)
    days = whole_number(days, field="days", minimum=1, maximum=MAX_RETENTION_DAYS)
    if end_action not in EndAction.values:
        raise InvalidInput(gettext("The end action is one of: none, delete, review."), code="invalid_end_action",
                           detail={"field": "end_action"})
    policy, created = RetentionPolicy.objects.update_or_create(
        space=space, node=node, defaults={"days": days, "end_action": end_action, "updated_at": timezone.now()})
    if created:
        policy.created_by = actor
        policy.save(update_fields=["created_by"])
    record(action=Action.GOVERNANCE_RETENTION_SET, actor=actor, target=node or space, target_label=label,
           space=space, details={"policy_id": policy.pk, "days": days, "end_action": end_action})
    return policy


@transaction.atomic
def retention_clear(*, actor, policy_id) -> None:
    """An administrator removes a retention policy (versions become deletable again as before)."""
    require_admin(actor, gettext("Only administrators manage legal holds and retention."))
    policy = RetentionPolicy.objects.select_related("space", "node").filter(pk=_id(policy_id, "policy")).first()
    if policy is None:
        raise NotFound(gettext("No such retention policy."))
    label = node_label(policy.node) if policy.node else policy.space.name
    record(action=Action.GOVERNANCE_RETENTION_CLEARED, actor=actor, target=policy.node or policy.space,
           target_label=label, space=policy.space, details={"policy_id": policy.pk, "days": policy.days})
    policy.delete()


@transaction.atomic
def review_resolve(*, actor, item_id) -> ReviewItem:
    """An administrator marks a file flagged at the end of its retention as reviewed."""
    require_admin(actor, gettext("Only administrators manage legal holds and retention."))
    item = ReviewItem.objects.select_for_update().filter(pk=_id(item_id, "item"), resolved_at__isnull=True).first()
    if item is None:
        raise NotFound(gettext("No such file waiting for review."))
    item.resolved_at, item.resolved_by = timezone.now(), actor
    item.save(update_fields=["resolved_at", "resolved_by"])
    node = Node.objects.select_related("space").get(pk=item.node_id)
    record(action=Action.GOVERNANCE_REVIEW_RESOLVED, actor=actor, target=node, target_label=node_label(node),
           space=node.space, details={"item_id": item.pk})
    return item
