"""Crash safety of the storage lifecycle, with real kills: a tiering run,
a compaction or the sweep of superseded copies runs in a process of its own
(tests/lifecycle/kill_driver.py) that SIGKILLs itself at one step; the hot
store and the cold tier are two buckets of one SeaweedFS.

After each kill every version of every file still downloads with its bytes
through the files API and no blob points at a missing object; running the
jobs again to completion then leaves everything in the cold tier, the hot
copies deleted and neither bucket holding anything nobody names.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from portal.core.errors import PortalError
from portal.core.tier_settings import parse_tiers
from portal.files.models import Blob, FileVersion
from portal.files.services import maintenance
from portal.files.services.direct import file_put
from portal.files.services.tree import node_trash, trash_purge
from portal.lifecycle import runs, sweeps
from portal.lifecycle.models import Container, ContainerState, Superseded
from portal.spaces.services import space_create
from portal.storage.tiers import placement_open, reset_tier_stores, tier_store
from tests.files.support_s3 import use_s3

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("kill_driver.py")
DRIVER_DEADLINE = 120   # seconds; a loaded machine starts Django slowly
KiB, MiB = 1024, 1024 * 1024
STEPS = ["mid_copy", "after_copy", "after_verify", "in_switch", "after_commit", "superseded_delete"]
KINDS = ["large", "packed", "compaction"]
POLICY = {"TIER_CURRENT_DAYS": 30, "TIER_OLD_DAYS": 10, "TIER_TRASH_DAYS": 3, "TIER_PROMOTE_ON_READ": False}


@dataclass
class Scene:
    """The files of one test, what the kill run is told its time is, and the buckets."""
    kind: str
    step: str
    alice: object = field(repr=False)
    cold_bucket: str
    hot_bucket: str
    now: object = field(default_factory=timezone.now)
    files: list = field(default_factory=list, repr=False)   # (label, node id, version number, bytes)

    @property
    def where(self) -> str:
        return f"{self.kind} kill at {self.step}"

    @property
    def far(self):
        """Later than every grace period and the 12 hours a container may stay WRITING."""
        return self.now + timedelta(days=400)

    @property
    def multipart(self) -> bool:
        """A kill mid-copy is of a copy over S3's multipart threshold (16 MiB): some parts are stored."""
        return self.step == "mid_copy"

    @property
    def pack_max(self) -> int:
        """Small enough to pack: a few KiB, or (for a container over the multipart threshold) 6 MiB."""
        return 8 * MiB if self.multipart and self.kind != "large" else 64 * KiB

    @property
    def run_at(self):
        """The kill run's time: the sweep's after the grace period, a move's or compaction's now."""
        return self.far if self.step == "superseded_delete" else self.now


@pytest.fixture
def two_buckets(settings, seaweed):
    """The hot store and a packing cold tier as two buckets of one SeaweedFS."""
    for name, value in POLICY.items():
        setattr(settings, name, value)
    settings.TIER_GRACE_MINUTES, settings.ORPHAN_GRACE_HOURS = 60, 24
    use_s3(settings, seaweed)
    config = {"cold": {"class": "cold", "backend": "s3", "endpoint": seaweed.endpoint_url,
                       "bucket": f"cold-{uuid.uuid4().hex[:12]}", "region": seaweed.region,
                       "access_key": seaweed.access_key, "secret_key": seaweed.secret_key}}
    settings.TIERS, settings.TIER_TARGET = parse_tiers(json.dumps(config), default={}), "cold"
    reset_tier_stores()
    tier_store("cold").ensure_bucket()
    yield config
    reset_tier_stores()


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgresql://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _driver_env(settings, seaweed, config: dict, var: Path, scene: Scene) -> dict:
    """The test's own settings for the driver: its database, Redis, both buckets, the policy."""
    (var / "static").mkdir(parents=True, exist_ok=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith("PORTAL_")}
    env.update({
        "DJANGO_SETTINGS_MODULE": "portal.settings", "PYTHONPATH": str(ROOT),
        "PORTAL_DATABASE_URL": _database_url(), "PORTAL_VAR_DIR": str(var), "PORTAL_DEBUG": "0",
        "PORTAL_SECRET_KEY": os.environ["PORTAL_SECRET_KEY"], "PORTAL_MASTER_KEY": os.environ["PORTAL_MASTER_KEY"],
        "PORTAL_STORAGE": "s3", "PORTAL_S3_ENDPOINT": seaweed.endpoint_url, "PORTAL_S3_BUCKET": settings.S3_BUCKET,
        "PORTAL_S3_ACCESS_KEY": seaweed.access_key, "PORTAL_S3_SECRET_KEY": seaweed.secret_key,
        "PORTAL_TIERS": json.dumps(config), "PORTAL_TIER_TARGET": "cold", "PORTAL_TIER_GRACE_MINUTES": "60",
        "PORTAL_PACK_MAX_BLOB": str(scene.pack_max),
        **{f"PORTAL_{name}": str(int(value)) for name, value in POLICY.items()},
    })
    if os.environ.get("PORTAL_REDIS_URL"):
        env["PORTAL_REDIS_URL"] = os.environ["PORTAL_REDIS_URL"]
    return env


@pytest.fixture
def driver(settings, seaweed, two_buckets, tmp_path):
    """Starts the driver for a scene (Django sets up while the test stores its files); killed at the end."""
    started = []

    def start(scene: Scene) -> subprocess.Popen:
        settings.PACK_MAX_BLOB = scene.pack_max
        started.append(subprocess.Popen(
            [sys.executable, str(DRIVER), scene.kind, scene.step], cwd=ROOT,
            env=_driver_env(settings, seaweed, two_buckets, tmp_path / "var", scene), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True))
        return started[-1]

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def run_killed(scene: Scene, process: subprocess.Popen) -> str:
    """Tell the driver its time; it must die of SIGKILL at the scene's step. What it said."""
    try:
        out, err = process.communicate(scene.run_at.isoformat() + "\n", timeout=DRIVER_DEADLINE)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{scene.where}: the driver still ran after {DRIVER_DEADLINE} s")
    said = out.strip()
    assert process.returncode == -signal.SIGKILL and said.startswith(f"killed at {scene.step}:"), (
        f"{scene.where}: the driver exited with {process.returncode}: {said}\n{err[-3000:]}")
    return said


# --- the files ------------------------------------------------------------------------------
def _put(scene: Scene, space, path: str, data: bytes) -> None:
    version = file_put(actor=scene.alice, space_id=space.pk, path=path, fileobj=io.BytesIO(data), size=len(data))
    maintenance.blob_hash(version.blob_id)   # only verified blobs move
    scene.files.append((path, version.node_id, version.number, data))


def _age(scene: Scene, days: int = 100) -> None:
    Blob.objects.filter(tier="hot").update(created_at=scene.now - timedelta(days=days), last_read_at=None)


def _small(scene: Scene, seed: int, *, bulky: bool = False) -> bytes:
    """A few KiB; 6 MiB when ``bulky`` and the scene needs a container over the multipart threshold."""
    return os.urandom((6 * MiB if bulky and scene.multipart else 3 * KiB) + 997 * seed)


def _purge(scene: Scene, path: str) -> None:
    """Delete a file for good (trash, purge, collect): its bytes leave a hole in their container."""
    node_id = next(node for label, node, _, _ in scene.files if label == path)
    node_trash(actor=scene.alice, node_id=node_id)
    trash_purge(actor=scene.alice, node_id=node_id)
    maintenance.blobs_collect()
    scene.files = [entry for entry in scene.files if entry[0] != path]


def set_up(scene: Scene) -> None:
    """The files of the scene's kind, old enough to move; for a compaction, already packed
    into two containers, one with a hole; for a kill in the sweep, the job already done."""
    space = space_create(actor=scene.alice, name="Kills")
    if scene.kind == "large":
        # Over S3's multipart threshold (16 MiB) where a kill mid-copy must leave parts behind.
        _put(scene, space, "/big.bin", os.urandom(18 * MiB + 123 if scene.multipart else 2 * MiB + 123))
        _put(scene, space, "/big.bin", os.urandom(300 * KiB))               # its second version
    else:
        _put(scene, space, "/a.txt", _small(scene, 1, bulky=True))
        _put(scene, space, "/a.txt", _small(scene, 2))
        _put(scene, space, "/b.txt", _small(scene, 3, bulky=True))
        _put(scene, space, "/c.bin", _small(scene, 4, bulky=True))
    _age(scene)
    if scene.kind == "compaction":
        runs.tiering_run(now=scene.now)                                     # container one
        for seed in (5, 6, 7):
            _put(scene, space, f"/d{seed}.bin", _small(scene, seed))
        _age(scene)
        runs.tiering_run(now=scene.now)                                     # container two
        _purge(scene, "/d6.bin")
        sweeps.superseded_delete(now=scene.far)
        assert Container.objects.filter(state=ContainerState.LIVE).count() == 2, scene.where
    if scene.step == "superseded_delete":
        finished = runs.containers_compact(now=scene.now) if scene.kind == "compaction" else \
            runs.tiering_run(now=scene.now).as_dict()
        assert Superseded.objects.exists(), f"{scene.where}: nothing to sweep after {finished}"


# --- what must hold ---------------------------------------------------------------------------
def download(client, node_id: int, number: int) -> tuple[int, bytes]:
    """A version's bytes through the files API, following a redirect to the object store."""
    response = client.get(f"/api/v1/files/{node_id}/content?version={number}")
    if response.status_code == 302:
        fetched = requests.get(response["Location"], timeout=60)
        return fetched.status_code, fetched.content
    body = b"".join(response.streaming_content) if getattr(response, "streaming", False) else response.content
    return response.status_code, body


def assert_every_version_readable(scene: Scene, client, when: str) -> None:
    for label, node_id, number, data in scene.files:
        status, body = download(client, node_id, number)
        assert status == 200 and body == data, (
            f"{scene.where}, {when}: {label} version {number} answered {status} with {len(body)} bytes "
            f"(of {len(data)}), {'the right' if body == data else 'wrong'} bytes")
    for blob in Blob.objects.all():
        try:
            with placement_open(blob.placement) as stream:
                digest = hashlib.sha256(stream.read()).hexdigest()
        except PortalError as exc:   # missing object, store error: say which blob
            pytest.fail(f"{scene.where}, {when}: blob {blob.pk} at {blob.placement} cannot be read: {exc!r}")
        assert digest == blob.sha256, f"{scene.where}, {when}: blob {blob.pk} at {blob.placement} has other bytes"


def bucket_keys(seaweed, bucket: str) -> set[str]:
    pages = seaweed.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


def unfinished_uploads(seaweed, bucket: str) -> list[str]:
    return [upload["Key"] for upload in seaweed.client().list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


def finish(scene: Scene, settings) -> None:
    """Everything again, to completion, far enough ahead for every grace period."""
    # The killed run still holds its Redis lock; it expires by itself after 6 hours.
    cache.delete_many([runs.RUN_LOCK, runs.COMPACT_LOCK])
    settings.TIER_GRACE_MINUTES, settings.ORPHAN_GRACE_HOURS = 0, 0
    report = runs.tiering_run(now=scene.far)
    assert not report.busy and report.failed == 0, f"{scene.where}: the rerun reported {report.as_dict()}"
    if scene.kind == "compaction":
        runs.containers_compact(now=scene.far)
    sweeps.superseded_delete(now=scene.far)
    sweeps.abandoned_containers_delete(now=scene.far)
    sweeps.tier_orphans_delete(now=scene.far)


def assert_clean(scene: Scene, seaweed, client) -> None:
    where = f"{scene.where}, after the rerun"
    assert_every_version_readable(scene, client, "after the rerun")
    blobs = list(Blob.objects.filter(versions__isnull=False).distinct())
    assert sorted(FileVersion.objects.values_list("blob__tier", flat=True)) == ["cold"] * len(scene.files), where
    assert not Blob.objects.exclude(tier="cold").exists(), f"{where}: blobs left hot"
    assert not Superseded.objects.exists(), f"{where}: copies still waiting: {list(Superseded.objects.all())}"
    containers = list(Container.objects.all())
    assert all(c.state == ContainerState.LIVE for c in containers), f"{where}: {[(c.key, c.state) for c in containers]}"
    for container in containers:
        live = sum(blob.size for blob in blobs if blob.container_id == container.pk)
        assert container.live_bytes == live, f"{where}: {container.key} counts {container.live_bytes} live bytes, not {live}"
    if scene.kind != "large":
        assert all(blob.container_id for blob in blobs), f"{where}: small blobs not packed"
    named = {blob.tier_key for blob in blobs if not blob.container_id} | {c.key for c in containers}
    cold = bucket_keys(seaweed, scene.cold_bucket)
    assert cold == named, f"{where}: cold bucket orphans {sorted(cold - named)}, missing {sorted(named - cold)}"
    assert bucket_keys(seaweed, scene.hot_bucket) == set(), f"{where}: hot copies left"
    for bucket in (scene.hot_bucket, scene.cold_bucket):
        assert unfinished_uploads(seaweed, bucket) == [], f"{where}: unfinished multipart uploads in {bucket}"


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("kind", KINDS)
def test_a_kill_at_any_step_leaves_every_version_readable_and_a_rerun_leaves_no_orphans(
        kind, step, two_buckets, driver, settings, seaweed, alice, api):
    scene = Scene(kind, step, alice, cold_bucket=two_buckets["cold"]["bucket"], hot_bucket=settings.S3_BUCKET)
    client = api.as_user(alice)
    process = driver(scene)
    set_up(scene)

    said = run_killed(scene, process)
    assert said.endswith(f"(in transaction: {step == 'in_switch'})"), f"{scene.where}: {said}"
    if scene.multipart:
        assert " 0 parts stored" not in said, f"{scene.where}: the copy was killed before any part was stored"
    if step == "superseded_delete":   # the object is gone, its row is not
        tier, _, key = said.split(": ")[1].split(" ")[0].partition(":")
        assert Superseded.objects.filter(tier=tier, key=key).exists(), f"{scene.where}: {said}"
        assert not tier_store(tier).exists(key), f"{scene.where}: {said}"
    assert_every_version_readable(scene, client, f"right after the kill ({said})")

    finish(scene, settings)
    assert_clean(scene, seaweed, client)


def test_an_unfinished_upload_in_a_tier_is_aborted_only_after_the_grace_period_and_only_under_its_prefix(
        two_buckets, settings, seaweed):
    store, bucket = tier_store("cold"), two_buckets["cold"]["bucket"]
    store.multipart_start("tiers/cold/b/00/interrupted")
    store.multipart_start("elsewhere/not-ours")

    assert sweeps.tier_orphans_delete(now=timezone.now()) == 0   # a copy may still be under way
    assert sorted(unfinished_uploads(seaweed, bucket)) == ["elsewhere/not-ours", "tiers/cold/b/00/interrupted"]

    assert sweeps.tier_orphans_delete(now=timezone.now() + timedelta(hours=25)) == 1
    assert unfinished_uploads(seaweed, bucket) == ["elsewhere/not-ours"]
