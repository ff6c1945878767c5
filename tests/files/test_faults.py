"""Uploads when things break: the object store down or restarting, the portal
dying in the middle of `complete` or between parts. Nothing half-created is
ever visible, no version points to missing bytes, and uploads resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from portal.accounts.services import token_issue
from portal.core.errors import PortalError
from portal.files.models import FileVersion, Node, NodeKind, UploadSession
from portal.files.services import maintenance
from portal.files.services.uploads import _assemble, _claim, _record, upload_complete
from portal.spaces.models import Space
from portal.storage import UploadNotFound
from tests.files.support_s3 import MiB, chunk, closed_port, put_part, ready_upload, use_local, use_s3, weed_server
from tests.helpers import assert_error

ROOT = Path(__file__).resolve().parents[2]
READY_DEADLINE = 60  # a loaded machine takes long to boot two workers


@pytest.fixture
def client(api, alice):
    return api.as_user(alice)


@pytest.fixture(params=["local", "s3"])
def backend(request, settings, tmp_path):
    settings.UPLOAD_PART_SIZE = 5 * MiB
    if request.param == "local":
        return use_local(settings, tmp_path / "objects")
    return use_s3(settings, request.getfixturevalue("seaweed"))


@pytest.fixture
def own_weed():
    """A SeaweedFS of this test's own, which it may stop and start again."""
    yield from weed_server()


def files_in(space) -> list[Node]:
    return list(Node.objects.filter(space=space, kind=NodeKind.FILE))


def used_bytes(space) -> int:
    return Space.objects.values_list("used_bytes", flat=True).get(pk=space.pk)


def stored(store, version: FileVersion) -> bytes:
    with store.open(version.blob.key) as stream:
        return stream.read()


def assert_every_version_has_its_bytes(store) -> None:
    for version in FileVersion.objects.select_related("blob"):
        assert store.exists(version.blob.key), f"version {version.number} of node {version.node_id} " \
                                               f"points to missing object {version.blob.key}"


def multipart_gone(store, session) -> bool:
    try:
        store.multipart_list_parts(session.key, session.multipart_id)
    except UploadNotFound:
        return True
    return False


# --- (a) the object store does not answer ------------------------------------------------------------
@pytest.mark.django_db
def test_with_the_object_store_down_an_upload_cannot_start_and_nothing_is_created(client, team, settings):
    settings.STORAGE_BACKEND = "s3"
    settings.S3_ENDPOINT = f"http://127.0.0.1:{closed_port()}"
    settings.S3_ACCESS_KEY, settings.S3_SECRET_KEY = "nobody", "nothing-" * 4
    settings.S3_BUCKET = "down"

    began = time.monotonic()
    response = client.post("/api/v1/uploads", {"space": team.id, "path": "/new/f.bin", "size": 6 * MiB},
                           format="json")
    body = assert_error(response, 503, "storage_unavailable")
    assert "not answering" in body["message"] and "Try again" in body["message"]
    assert time.monotonic() - began < 15  # an outage surfaces in seconds
    assert not UploadSession.objects.exists()
    assert not files_in(team) and not Node.objects.filter(space=team, name="new").exists()
    assert used_bytes(team) == 0


# --- (b) the store goes away between parts and comes back ------------------------------------------
@pytest.mark.django_db
def test_an_upload_survives_the_object_store_restarting_between_parts(client, team, settings, own_weed):
    settings.UPLOAD_PART_SIZE = 5 * MiB
    store = use_s3(settings, own_weed)
    data = os.urandom(10 * MiB + 321)
    started = client.post("/api/v1/uploads", {"space": team.id, "path": "/outage.bin", "size": len(data)},
                          format="json")
    assert started.status_code == 201, started.content
    upload = started.json()
    one, two, _ = upload["parts"]
    put_part(one["url"], chunk(data, one, upload["part_size"]))

    own_weed.stop()
    assert_error(client.get(f"/api/v1/uploads/{upload['id']}"), 503, "storage_unavailable")
    with pytest.raises(requests.ConnectionError):
        requests.put(two["url"], data=chunk(data, two, upload["part_size"]), timeout=10)
    assert_error(client.post(f"/api/v1/uploads/{upload['id']}/complete"), 503, "storage_unavailable")
    session = UploadSession.objects.get(pk=upload["id"])
    assert (session.state, session.completing_at) == ("open", None)  # nothing was claimed
    assert not files_in(team) and not FileVersion.objects.exists()

    own_weed.start()
    resumed = client.get(f"/api/v1/uploads/{upload['id']}")
    assert resumed.status_code == 200, resumed.content
    resumed = resumed.json()
    assert resumed["received"] == [1] and [p["number"] for p in resumed["parts"]] == [2, 3]
    for part in resumed["parts"]:
        put_part(part["url"], chunk(data, part, upload["part_size"]))
    done = client.post(f"/api/v1/uploads/{upload['id']}/complete")
    assert done.status_code == 201, done.content
    assert (done.json()["size"], done.json()["version"]) == (len(data), 1)
    assert stored(store, FileVersion.objects.get()) == data


@pytest.mark.django_db
def test_an_expiry_sweep_during_an_outage_still_aborts_the_upload_once_the_store_is_back(alice, team, settings,
                                                                                         own_weed):
    settings.UPLOAD_PART_SIZE = 5 * MiB
    store = use_s3(settings, own_weed)
    session = ready_upload(store, alice, team, "/abandoned.bin", os.urandom(5 * MiB + 1))
    UploadSession.objects.filter(pk=session.pk).update(expires_at=timezone.now() - timedelta(minutes=1))

    own_weed.stop()
    try:
        maintenance.uploads_sweep()
    except PortalError as exc:  # failing loudly is fine; forgetting the upload is not
        assert exc.status == 503, exc
    own_weed.start()
    maintenance.uploads_sweep()  # the next scheduled run

    assert UploadSession.objects.get(pk=session.pk).state == "expired"
    assert multipart_gone(store, session), "the expired upload's parts stay in the store for ever"
    assert not own_weed.client().list_multipart_uploads(Bucket=store.bucket).get("Uploads")


# --- (c) the portal dies inside `complete` ---------------------------------------------------------
@pytest.mark.django_db
def test_a_crash_after_the_store_assembled_the_object_is_finished_by_completing_again(alice, team, backend):
    data = os.urandom(10 * MiB + 5)
    session = ready_upload(backend, alice, team, "/crash/after-assembly.bin", data)
    claimed, parts = _claim(alice, session.pk)   # step 1
    _assemble(claimed, parts)                    # step 2 ... and the process dies before step 3

    assert UploadSession.objects.get(pk=session.pk).state == "completing"
    assert backend.exists(session.key) and multipart_gone(backend, session)
    assert not FileVersion.objects.exists() and not files_in(team) and used_bytes(team) == 0

    version = upload_complete(actor=alice, upload_id=session.pk)
    assert (version.number, version.size) == (1, len(data))
    assert stored(backend, version) == data
    assert used_bytes(team) == len(data)
    assert upload_complete(actor=alice, upload_id=session.pk).pk == version.pk
    assert FileVersion.objects.count() == 1
    assert_every_version_has_its_bytes(backend)


@pytest.mark.django_db
def test_a_crash_right_after_claiming_is_finished_by_completing_again(alice, team, backend):
    data = os.urandom(5 * MiB + 99)
    session = ready_upload(backend, alice, team, "/crash/after-claim.bin", data)
    _claim(alice, session.pk)  # step 1, then the process dies

    assert not backend.exists(session.key) and not FileVersion.objects.exists()
    version = upload_complete(actor=alice, upload_id=session.pk)
    assert stored(backend, version) == data
    assert UploadSession.objects.get(pk=session.pk).state == "completed"


@pytest.mark.django_db
def test_a_session_stuck_in_completing_is_swept_without_a_multipart_abort(alice, team, backend, monkeypatch):
    data = os.urandom(5 * MiB + 7)
    session = ready_upload(backend, alice, team, "/crash/stuck.bin", data)
    _assemble(*_claim(alice, session.pk))  # then the process dies and nobody completes again
    UploadSession.objects.filter(pk=session.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    aborts = []
    real_abort = backend.multipart_abort
    monkeypatch.setattr(backend, "multipart_abort", lambda *a, **k: (aborts.append(a), real_abort(*a, **k)))

    assert maintenance.uploads_sweep() == {"aborted": 0, "orphaned": 1, "expired": 0, "released": 0}

    assert aborts == []  # SeaweedFS #10663: aborting a completed upload destroys its object
    assert UploadSession.objects.get(pk=session.pk).state == "expired"
    assert not backend.exists(session.key)  # no version took it: the sweep removed it
    assert not FileVersion.objects.exists() and not files_in(team) and used_bytes(team) == 0
    with pytest.raises(PortalError) as refused:
        upload_complete(actor=alice, upload_id=session.pk)
    assert (refused.value.status, refused.value.code) == (409, "upload_closed")
    assert maintenance.uploads_sweep() == {"aborted": 0, "orphaned": 0, "expired": 0, "released": 0}  # safe to run twice


@pytest.mark.django_db
def test_the_expiry_sweep_between_assembling_and_recording_leaves_no_version_without_bytes(alice, team, backend):
    """A slow `complete` (or one started just before expiry) is between steps 2
    and 3 when the sweep expires its session and deletes the object."""
    data = os.urandom(5 * MiB + 11)
    session = ready_upload(backend, alice, team, "/crash/raced.bin", data)
    _assemble(*_claim(alice, session.pk))
    UploadSession.objects.filter(pk=session.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert maintenance.uploads_sweep() == {"aborted": 0, "orphaned": 1, "expired": 0, "released": 0}

    try:
        outcome = _record(alice, session)  # step 3 of the slow complete resumes
    except PortalError as exc:
        outcome = exc

    assert_every_version_has_its_bytes(backend)
    assert isinstance(outcome, PortalError) and outcome.status == 409, outcome
    assert not files_in(team) and used_bytes(team) == 0


@pytest.mark.django_db
def test_a_complete_resuming_after_another_call_was_refused_creates_no_version(alice, team, backend):
    """Two calls complete one upload; the first is refused at step 3 (quota), which
    closes the session and deletes the bytes. The second, already past step 2,
    must not turn the deleted object into a version once space is free again."""
    data = os.urandom(5 * MiB + 13)
    session = ready_upload(backend, alice, team, "/crash/twice.bin", data)
    _assemble(*_claim(alice, session.pk))        # both calls are past step 2
    Space.objects.filter(pk=team.pk).update(quota_bytes=MiB)
    with pytest.raises(PortalError) as refused:  # the first call's step 3
        _record(alice, session)
    assert refused.value.code == "quota_exceeded" and not backend.exists(session.key)
    Space.objects.filter(pk=team.pk).update(quota_bytes=100 * MiB)  # someone freed space meanwhile

    try:
        outcome = _record(alice, session)     # the second call's step 3
    except PortalError as exc:
        outcome = exc

    assert_every_version_has_its_bytes(backend)
    assert isinstance(outcome, PortalError) and outcome.status == 409, outcome
    assert UploadSession.objects.get(pk=session.pk).state == "aborted"


@pytest.mark.django_db
def test_the_orphan_sweep_removes_only_objects_nothing_refers_to(alice, team, backend, settings):
    kept = ready_upload(backend, alice, team, "/kept.bin", b"kept")
    version = upload_complete(actor=alice, upload_id=kept.pk)
    in_flight = ready_upload(backend, alice, team, "/in-flight.bin", b"in flight")
    _assemble(*_claim(alice, in_flight.pk))  # completing: its object is not an orphan yet
    dead = ready_upload(backend, alice, team, "/dead.bin", b"dead")
    _assemble(*_claim(alice, dead.pk))
    UploadSession.objects.filter(pk=dead.pk).update(state="aborted")  # died before removing its object
    later = timezone.now() + timedelta(hours=settings.ORPHAN_GRACE_HOURS + 1)

    assert maintenance.orphans_sweep() == 0  # within the grace period nothing goes
    assert maintenance.orphans_sweep(now=later) == 1

    assert not backend.exists(dead.key)
    assert backend.exists(in_flight.key) and stored(backend, version) == b"kept"
    assert upload_complete(actor=alice, upload_id=in_flight.pk).size == len(b"in flight")
    assert maintenance.orphans_sweep(now=later) == 0


# --- (d) the portal process is killed between parts ----------------------------------------------
class PortalServer:
    """gunicorn serving the portal on the test database and the given store;
    started and killed like a real deployment."""

    def __init__(self, env: dict, port: int, log: Path):
        self.env, self.port, self.log = env, port, log
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = [str(Path(sys.executable).parent / "gunicorn"), "portal.wsgi:application",
                   "--bind", f"127.0.0.1:{self.port}", "--workers", "2", "--timeout", "60"]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + READY_DEADLINE
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"gunicorn exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        pytest.fail(f"the portal did not become healthy within {READY_DEADLINE} s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL the whole process group: master and workers die mid-whatever."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        self.process = None

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgresql://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def portal_server(tmp_path, settings, seaweed):
    """A gunicorn portal on S3 (a fresh bucket, shared with this test's own store)."""
    use_s3(settings, seaweed)
    var = tmp_path / "var"
    (var / "static").mkdir(parents=True)
    port = closed_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("PORTAL_")}
    env.update({
        "PORTAL_DATABASE_URL": _database_url(),
        "PORTAL_SECRET_KEY": os.environ["PORTAL_SECRET_KEY"],
        "PORTAL_MASTER_KEY": os.environ["PORTAL_MASTER_KEY"],
        "PORTAL_VAR_DIR": str(var),
        "PORTAL_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "PORTAL_DEBUG": "0",
        "PORTAL_STORAGE": "s3",
        "PORTAL_S3_ENDPOINT": seaweed.endpoint_url,
        "PORTAL_S3_ACCESS_KEY": seaweed.access_key,
        "PORTAL_S3_SECRET_KEY": seaweed.secret_key,
        "PORTAL_S3_BUCKET": django_settings.S3_BUCKET,
        "PORTAL_UPLOAD_PART_SIZE": str(5 * MiB),
    })
    if os.environ.get("PORTAL_REDIS_URL"):
        env["PORTAL_REDIS_URL"] = os.environ["PORTAL_REDIS_URL"]
    server = PortalServer(env, port, tmp_path / "gunicorn.log")
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_upload_resumes_after_the_portal_process_is_killed_between_parts(alice, team, portal_server):
    from portal.storage import get_store

    _, token = token_issue(actor=alice, owner=alice, name="agent")
    auth = {"Authorization": f"Bearer {token}"}
    data = os.urandom(10 * MiB + 4321)
    portal_server.start()
    started = requests.post(f"{portal_server.url}/api/v1/uploads", headers=auth, timeout=30,
                            json={"space": team.id, "path": "/killed/f.bin", "size": len(data)})
    assert started.status_code == 201, started.text
    upload = started.json()
    assert upload["part_count"] == 3
    put_part(upload["parts"][0]["url"], chunk(data, upload["parts"][0], upload["part_size"]))

    portal_server.kill()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{portal_server.url}/api/v1/uploads/{upload['id']}", headers=auth, timeout=5)
    portal_server.start()

    resumed = requests.get(f"{portal_server.url}/api/v1/uploads/{upload['id']}", headers=auth, timeout=30)
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["received"] == [1]
    assert [p["number"] for p in resumed.json()["parts"]] == [2, 3]
    for part in resumed.json()["parts"]:
        put_part(part["url"], chunk(data, part, upload["part_size"]))
    done = requests.post(f"{portal_server.url}/api/v1/uploads/{upload['id']}/complete", headers=auth, timeout=60)
    assert done.status_code == 201, done.text
    assert (done.json()["path"], done.json()["size"], done.json()["version"]) == ("/killed/f.bin", len(data), 1)
    assert stored(get_store(), FileVersion.objects.get()) == data
    assert used_bytes(team) == len(data)
