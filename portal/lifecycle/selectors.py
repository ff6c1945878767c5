"""Reads for the console's storage page: what each tier holds, the policies
in force, the last runs of the lifecycle tasks and restores under way."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Sum

from portal.audit.models import TaskRun
from portal.audit.actions import Action
from portal.audit.models import AuditEvent
from portal.files.models import Blob, FileVersion, Integrity
from portal.lifecycle.models import BlobRestore, Container, ContainerState, RestoreState, SpaceTierPolicy
from portal.lifecycle.policies import deployment_policy
from portal.storage.tiers import HOT, Tier, tiers

LIFECYCLE_TASKS = ("lifecycle.tier", "lifecycle.compact", "lifecycle.sweep", "files.scrub")
DAMAGED_SHOWN = 50


@dataclass
class TierUsage:
    tier: Tier
    where: str
    blobs: int = 0
    bytes: int = 0
    containers: int = 0
    container_bytes: int = 0
    live_percent: int = 100


def _where(tier: Tier) -> str:
    if tier.name == HOT:
        return settings.S3_BUCKET if settings.STORAGE_BACKEND == "s3" else str(settings.STORAGE_ROOT)
    config = settings.TIERS[tier.name]
    if config["backend"] == "local":
        return str(config["root"])
    place = f"{config.get('bucket', settings.S3_BUCKET)}/{tier.prefix}"
    return f"{place} ({tier.storage_class})" if tier.storage_class else place


def tier_usage() -> list[TierUsage]:
    """Each tier with its blobs and bytes, and its containers (two grouped queries)."""
    usage = {name: TierUsage(tier, _where(tier)) for name, tier in tiers().items()}
    for row in Blob.objects.values("tier").annotate(count=Count("pk"), total=Sum("size")).order_by():
        found = usage.setdefault(row["tier"], TierUsage(Tier(row["tier"], "cold"), "?"))
        found.blobs, found.bytes = row["count"], row["total"] or 0
    for row in (Container.objects.filter(state=ContainerState.LIVE).values("tier")
                .annotate(count=Count("pk"), size=Sum("size"), data=Sum("data_bytes"), live=Sum("live_bytes"))
                .order_by()):
        if row["tier"] in usage:
            found = usage[row["tier"]]
            found.containers, found.container_bytes = row["count"], row["size"] or 0
            found.live_percent = round(100 * (row["live"] or 0) / row["data"]) if row["data"] else 100
    return list(usage.values())


def space_policies():
    return SpaceTierPolicy.objects.select_related("space").order_by("space__name")


def recent_runs(limit: int = 12):
    return TaskRun.objects.filter(name__in=LIFECYCLE_TASKS).order_by("-started_at")[:limit]


def restores_pending() -> int:
    return BlobRestore.objects.filter(state=RestoreState.PENDING).count()


def damaged_blobs(limit: int = DAMAGED_SHOWN) -> tuple[list[dict], int]:
    """Blobs the scrub found damaged or missing (their SHA-256 was recorded,
    so the hashing check is not what flagged them), each with a file using it."""
    flagged = Blob.objects.filter(integrity=Integrity.MISMATCH, sha256__isnull=False)
    rows = list(flagged.order_by("pk")[:limit])
    files = {}
    for version in (FileVersion.objects.filter(blob__in=rows).select_related("node__space").order_by("-pk")):
        files.setdefault(version.blob_id, version)
    return [{"blob": blob, "version": files.get(blob.pk)} for blob in rows], flagged.count()


def scrub_overview() -> dict:
    last = AuditEvent.objects.filter(action=Action.BLOB_SCRUBBED).order_by("-id").first()
    damaged, total = damaged_blobs()
    return {"last": last, "details": last.details if last and isinstance(last.details, dict) else {},
            "damaged": damaged, "damaged_total": total}


def storage_overview() -> dict:
    return {"scrub": scrub_overview(), "usage": tier_usage(), "policy": deployment_policy(),
            "space_policies": space_policies(),
            "runs": recent_runs(), "restores": restores_pending(), "colder": [t for t in tiers() if t != HOT]}
