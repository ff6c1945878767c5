"""Which blobs a tiering run moves, and where: the deployment's policy
(settings TIER_*), a space's own (``SpaceTierPolicy``), and the rule that
combines them for a blob several versions (even several spaces) share.

A version's age is counted from its blob's last read (or its upload when
never read): current versions wait ``current_days``, older versions
``old_days``, files in the trash ``trash_days``. A blob moves when every
version using it is old enough for its policy, to the warmest tier those
policies name; a version whose policy says never (0 days, or no tier), a
file under a lock or a blob not yet verified keeps it where it is.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models.functions import Coalesce

from portal.files.models import Blob, FileVersion, Integrity
from portal.governance.selectors import held_nodes
from portal.lifecycle.models import SpaceTierPolicy
from portal.locks.models import Lock
from portal.storage.tiers import HOT, tiers


@dataclass(frozen=True)
class Policy:
    tier: str               # "" : never move
    current_days: int       # 0 : never
    old_days: int
    trash_days: int
    promote_on_read: bool

    def days_for(self, *, current: bool, trashed: bool) -> int:
        if not self.tier:
            return 0
        if trashed:
            return self.trash_days
        return self.current_days if current else self.old_days

    @property
    def shortest(self) -> int:
        days = [d for d in (self.current_days, self.old_days, self.trash_days) if d > 0]
        return min(days) if self.tier and days else 0


def deployment_policy() -> Policy:
    tier = settings.TIER_TARGET if settings.TIER_TARGET in settings.TIERS else ""
    return Policy(tier, settings.TIER_CURRENT_DAYS, settings.TIER_OLD_DAYS, settings.TIER_TRASH_DAYS,
                  settings.TIER_PROMOTE_ON_READ)


def _of(row: SpaceTierPolicy) -> Policy:
    return Policy(row.tier if row.tier in settings.TIERS else "", row.current_days, row.old_days,
                  row.trash_days, row.promote_on_read)


def space_policy(space_id: int) -> Policy:
    row = SpaceTierPolicy.objects.filter(space_id=space_id).first()
    return _of(row) if row else deployment_policy()


def policies_for(space_ids) -> dict[int, Policy]:
    """Each space's policy (the deployment's unless it has its own), one query."""
    default = deployment_policy()
    own = {row.space_id: _of(row) for row in SpaceTierPolicy.objects.filter(space_id__in=set(space_ids))}
    return defaultdict(lambda: default, own)


def _shortest_days() -> int:
    """The fewest idle days after which any policy moves anything (0: none does)."""
    days = [p.shortest for p in [deployment_policy(), *map(_of, SpaceTierPolicy.objects.all())] if p.shortest]
    return min(days) if days else 0


@dataclass(frozen=True)
class Candidate:
    blob: Blob
    tier: str


def idle_since(blob: Blob) -> datetime:
    return blob.last_read_at or blob.created_at


def candidates(*, now: datetime, after_id: int = 0, limit: int = 2000) -> tuple[list[Candidate], int]:
    """Hot blobs due to move (at most ``limit`` examined, by id after
    ``after_id``) and the last id examined (0 when there are no more)."""
    shortest = _shortest_days()
    if not shortest:
        return [], 0
    rows = list(Blob.objects.filter(tier=HOT, integrity=Integrity.VERIFIED, sha256__isnull=False, pk__gt=after_id)
                .alias(idle=Coalesce("last_read_at", "created_at"))
                .filter(idle__lt=now - timedelta(days=shortest))
                .order_by("pk")[:limit])
    if not rows:
        return [], 0
    return _due(rows, now=now), rows[-1].pk


def _due(blobs: list[Blob], *, now: datetime) -> list[Candidate]:
    versions = defaultdict(list)
    for row in (FileVersion.objects.filter(blob__in=blobs)
                .values("blob_id", "pk", "node_id", "node__current_version_id", "node__trashed_at",
                        "node__space_id", "node__space__deleted_at")):
        versions[row["blob_id"]].append(row)
    node_ids = {row["node_id"] for rows in versions.values() for row in rows}
    locked = set(Lock.objects.filter(node_id__in=node_ids, expires_at__gt=now).values_list("node_id", flat=True))
    locked |= held_nodes(node_ids)  # a legal hold keeps its bytes where they are: no tier move, no source delete
    policies = policies_for({row["node__space_id"] for rows in versions.values() for row in rows})
    coldness = {name: tier.coldness for name, tier in tiers().items()}
    due = []
    for blob in blobs:
        target = _target(versions.get(blob.pk, []), policies, locked, coldness, idle=now - idle_since(blob))
        if target:
            due.append(Candidate(blob, target))
    return due


def _target(rows, policies, locked, coldness, *, idle: timedelta) -> str:
    """The tier a blob with these versions moves to now, or ""."""
    if not rows:
        return ""   # no version uses it: the collector deletes it, no need to move it first
    targets = set()
    for row in rows:
        if row["node_id"] in locked:
            return ""
        policy = policies[row["node__space_id"]]
        trashed = row["node__trashed_at"] is not None or row["node__space__deleted_at"] is not None
        days = policy.days_for(current=row["pk"] == row["node__current_version_id"], trashed=trashed)
        if not days or idle < timedelta(days=days):
            return ""
        targets.add(policy.tier)
    return min(targets, key=lambda name: coldness.get(name, 0))
