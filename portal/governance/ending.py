"""What happens when a file's retention ends (the system's beat task).

The nearest policy (a folder's over its space's) decides what happens to a file at the end;
the longest covering one decides when (``selectors.protection``).

A file's retention under a policy ends when its newest version is older than
the policy's days. ``delete`` purges it (all its versions are then past the
period); ``review`` puts it once on the console's review list. Files under a
legal hold, or still kept by another (longer) policy, are skipped, never failed.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from portal.audit.actions import Action
from portal.audit.services import record
from portal.files import walk
from portal.files.models import FileVersion, Node, NodeKind
from portal.governance.models import EndAction, RetentionPolicy, ReviewItem
from portal.governance.selectors import protection

BATCH = 500


def _ended_files(policy: RetentionPolicy, now) -> list[int]:
    """Files whose newest version is past the period, where this is the nearest policy (a folder's beats the
    space's, a subfolder's beats its folder's: the nearest says what happens at the end)."""
    space_id = policy.node.space_id if policy.node_id else policy.space_id   # a folder's policy follows its folder
    files = Node.objects.filter(space_id=space_id, kind=NodeKind.FILE)
    scope = None
    if policy.node_id is not None:
        scope = set(walk.descendant_ids(policy.node_id, live_only=False))
        files = files.filter(pk__in=scope)
    for other in RetentionPolicy.objects.filter(node__space_id=space_id).exclude(pk=policy.pk):
        if scope is None or other.node_id in scope:
            files = files.exclude(pk__in=[other.node_id, *walk.descendant_ids(other.node_id, live_only=False)])
    newest = (FileVersion.objects.filter(node__in=files).values("node_id").annotate(newest=Max("created_at"))
              .filter(newest__lt=now - timedelta(days=policy.days)).values_list("node_id", flat=True))
    return list(newest[:BATCH])


@transaction.atomic
def _end(policy: RetentionPolicy, now) -> dict:
    from portal.files.services.tree import purge

    ended = _ended_files(policy, now)
    found = protection(ended, now=now)   # one resolution for the whole batch
    due = [pk for pk in ended if not found.node_blocked(pk)]
    done = 0
    if policy.end_action == EndAction.REVIEW:
        flagged = set(ReviewItem.objects.filter(node_id__in=due).values_list("node_id", flat=True))
        for pk in due:
            if pk not in flagged:
                ReviewItem.objects.create(node_id=pk, policy=policy, flagged_at=now)
                done += 1
    else:
        for node in Node.objects.select_for_update(skip_locked=True).filter(pk__in=due):
            purge(node, actor=None, protected=found)
            done += 1
    if done:
        record(action=Action.GOVERNANCE_RETENTION_ENDED, actor=None, target=policy.node or policy.space,
               target_label=policy.node.name if policy.node else policy.space.name, space=policy.space,
               details={"policy_id": policy.pk, "end_action": policy.end_action, "files": done,
                        "skipped": len(ended) - len(due)})
    return {"done": done, "skipped": len(ended) - len(due)}


def retention_end_apply(*, now=None) -> dict:
    """Apply every policy's end action; a report of files deleted, flagged and skipped."""
    now = now or timezone.now()
    report = {"deleted": 0, "flagged": 0, "skipped": 0}
    for policy in (RetentionPolicy.objects.exclude(end_action=EndAction.NONE).select_related("space", "node")
                   .order_by("pk")):
        result = _end(policy, now)
        report["deleted" if policy.end_action == EndAction.DELETE else "flagged"] += result["done"]
        report["skipped"] += result["skipped"]
    return report
