"""Fixtures for the storage lifecycle tests: a cold tier beside the hot
store (a local folder, or a second SeaweedFS bucket), files stored through
the real services and aged, and downloads through the real API."""

from __future__ import annotations

import io
import json
import uuid
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from portal.core.tier_settings import parse_tiers
from portal.files.models import Blob, FileVersion
from portal.files.services import maintenance
from portal.files.services.direct import file_put
from portal.spaces.services import space_create
from portal.storage.tiers import reset_tier_stores, tier_store, tiers
from tests.files.support_s3 import use_s3


def configure_tiers(settings, config: dict, *, target: str | None = None):
    """Point the portal at these tiers (``PORTAL_TIERS``), their buckets or folders made."""
    settings.TIERS = parse_tiers(json.dumps(config), default={})
    settings.TIER_TARGET = target or next(iter(config))
    reset_tier_stores()
    for name in config:
        tier_store(name).ensure_bucket()
    return tiers()


@pytest.fixture
def policy(settings):
    """The deployment's policy in these tests: current versions after 30 idle days, older ones after 10,
    the trash after 3; old copies deleted an hour after a move."""
    settings.TIER_CURRENT_DAYS, settings.TIER_OLD_DAYS, settings.TIER_TRASH_DAYS = 30, 10, 3
    settings.TIER_GRACE_MINUTES = 60
    settings.PACK_MAX_BLOB = 64 * 1024
    settings.TIER_PROMOTE_ON_READ = False
    return settings


@pytest.fixture
def cold(settings, policy, tmp_path):
    """A packing cold tier in a local folder beside the local hot store."""
    found = configure_tiers(settings, {"cold": {"class": "cold", "backend": "local", "root": str(tmp_path / "cold")}})
    yield found["cold"]
    reset_tier_stores()


@pytest.fixture
def s3_tiers(settings, policy, seaweed):
    """The hot store and a cold tier as two buckets of one SeaweedFS."""
    use_s3(settings, seaweed)
    found = configure_tiers(settings, {"cold": {
        "class": "cold", "backend": "s3", "endpoint": seaweed.endpoint_url, "bucket": f"cold-{uuid.uuid4().hex[:12]}",
        "region": seaweed.region, "access_key": seaweed.access_key, "secret_key": seaweed.secret_key}})
    yield found["cold"]
    reset_tier_stores()


@pytest.fixture
def team(alice):
    return space_create(actor=alice, name="Team")


def stored(actor, space, path: str, data: bytes) -> FileVersion:
    """A file version stored through the real service, then hashed (only verified blobs move)."""
    version = file_put(actor=actor, space_id=space.pk, path=path, fileobj=io.BytesIO(data), size=len(data))
    maintenance.blob_hash(version.blob_id)
    return FileVersion.objects.select_related("blob", "node").get(pk=version.pk)


def age(*versions, days: int) -> None:
    """Make these versions' bytes look unread for ``days`` days."""
    Blob.objects.filter(versions__in=versions).update(created_at=timezone.now() - timedelta(days=days),
                                                      last_read_at=None)


def blob_of(version) -> Blob:
    return Blob.objects.get(pk=FileVersion.objects.values_list("blob_id", flat=True).get(pk=version.pk))


def content(client, node_id: int, **headers) -> tuple[int, bytes]:
    """A file's bytes through the files API, following a redirect to the object store."""
    response = client.get(f"/api/v1/files/{node_id}/content", **headers)
    if response.status_code == 302:
        fetched = requests.get(response["Location"], timeout=30,
                               headers={k[5:].replace("_", "-"): v for k, v in headers.items() if k.startswith("HTTP_")})
        return fetched.status_code, fetched.content
    if response.status_code >= 400:
        return response.status_code, response.content
    data = b"".join(response.streaming_content) if response.streaming else response.content
    return response.status_code, data
