"""A volume server of the SeaweedFS cluster dies while clients download and upload through the balancer:
every download still succeeds (replication 001 keeps each object on two volume servers), uploads succeed
or fail with a clear answer and are retried, and after the revive SeaweedFS repairs replication
(volume.fix.replication) and Coffer's scrub reads every stored file back against its SHA-256.

What the clients saw is printed (pytest -s) for the operator's notes."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import pytest
import requests

from tests.cluster.client import download, new_space, upload
from tests.cluster.conftest import ROOT, Cluster

# One test pays for the package's `up` and `down` too: minutes when the machine is shared.
pytestmark = [pytest.mark.cluster, pytest.mark.timeout(600)]

WEED = str(ROOT / ".venv" / "bin" / "weed")
MASTER_PORT = 9333
ATTEMPTS = 8            # what a client tries one step (a part, the start, the completion) before giving up
SETTLE_SECONDS = 60     # how long the stored files may take to be hashed by the workers


@dataclass
class Seen:
    """What the clients saw, for the report."""
    downloads: int = 0
    download_failures: list = field(default_factory=list)
    slowest_download: float = 0.0
    uploads: int = 0
    slowest_upload: float = 0.0
    upload_failures: Counter = field(default_factory=Counter)   # (step, status or error) -> attempts
    gave_up: list = field(default_factory=list)
    retried_uploads: int = 0
    last_failure_at: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _step(seen: Seen, name: str, call) -> requests.Response:
    """One step of an upload, retried as a client does (a dead volume server answers for a few seconds)."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            answer = call()
        except requests.RequestException as exc:
            outcome = type(exc).__name__
        else:
            if answer.status_code < 400:
                return answer
            code = answer.json().get("code", "") if "json" in answer.headers.get("Content-Type", "") else ""
            outcome = f"{answer.status_code} {code}".strip()
        with seen.lock:
            seen.upload_failures[(name, outcome)] += 1
            seen.last_failure_at = time.monotonic()
        time.sleep(min(0.25 * 2 ** attempt, 2))
    raise AssertionError(f"{name} failed {ATTEMPTS} times, last: {outcome}")


def upload_retrying(session: requests.Session, cluster: Cluster, space_id: int, path: str, data: bytes,
                    seen: Seen) -> int:
    """client.upload, with each step retried: start, every part PUT to the gateway, complete."""
    failures_before, began = sum(seen.upload_failures.values()), time.monotonic()
    started = _step(seen, "start", lambda: session.post(
        f"{cluster.lb}/api/v1/uploads", json={"space": space_id, "path": path, "size": len(data)}, timeout=30))
    upload_session = started.json()
    for part in upload_session["parts"]:
        offset = (part["number"] - 1) * upload_session["part_size"]
        chunk = data[offset:offset + upload_session["part_size"]]
        _step(seen, "part", lambda: requests.put(part["url"], data=chunk, timeout=30))
    done = _step(seen, "complete", lambda: session.post(
        f"{cluster.lb}/api/v1/uploads/{upload_session['id']}/complete", timeout=30))
    with seen.lock:
        seen.uploads += 1
        seen.slowest_upload = max(seen.slowest_upload, time.monotonic() - began)
        seen.retried_uploads += sum(seen.upload_failures.values()) > failures_before
    return done.json()["id"]


def downloader(session: requests.Session, cluster: Cluster, files: dict[int, bytes], seen: Seen,
               stop: threading.Event) -> None:
    while not stop.is_set():
        for node_id, data in list(files.items()):
            began = time.monotonic()
            try:
                answer = session.get(f"{cluster.lb}/api/v1/files/{node_id}/content", timeout=30)
                problem = "" if answer.status_code == 200 and answer.content == data else \
                    f"{answer.status_code} {answer.text[:120]}"
            except requests.RequestException as exc:
                problem = type(exc).__name__
            with seen.lock:
                seen.downloads += 1
                seen.slowest_download = max(seen.slowest_download, time.monotonic() - began)
                if problem:
                    seen.download_failures.append((node_id, problem))
            if stop.is_set():
                return


def uploader(session: requests.Session, cluster: Cluster, space_id: int, name: str, made: dict[int, bytes],
             seen: Seen, stop: threading.Event) -> None:
    number = 0
    while not stop.is_set():
        number += 1
        data = os.urandom(40_000 + number)
        try:
            made[upload_retrying(session, cluster, space_id, f"{name}-{number}.bin", data, seen)] = data
        except AssertionError as exc:
            with seen.lock:
                seen.gave_up.append(str(exc))


def weed_shell(cluster: Cluster, *commands: str) -> str:
    """`weed shell` against the cluster's master, from the master's host."""
    result = subprocess.run(["ip", "netns", "exec", cluster.namespace("s3-master"), WEED, "shell",
                             f"-master={cluster.address('s3-master')}:{MASTER_PORT}"], input="\n".join(commands) + "\n",
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


def replica_counts(cluster: Cluster) -> dict[int, int]:
    """Volume id -> how many volume servers hold a copy (`volume.list`)."""
    holders: dict[int, set[str]] = {}
    server = ""
    for line in weed_shell(cluster, "volume.list").splitlines():
        words = line.split()
        if words[:1] == ["DataNode"]:
            server = words[1]
        elif words[:1] == ["volume"] and words[1].startswith("Id:"):
            holders.setdefault(int(words[1][3:].rstrip(",")), set()).add(server)
    return {volume: len(servers) for volume, servers in sorted(holders.items())}


def django(cluster: Cluster, code: str) -> str:
    """Python on a portal host with its settings; the last line it printed."""
    return cluster.manage("shell", "-c", code).splitlines()[-1]


def scrub(cluster: Cluster) -> tuple[int, dict]:
    env = {"PATH": os.environ["PATH"], "COFFER_ENV": str(cluster.state / "hosts" / "worker2" / "coffer.env")}
    result = cluster.in_host("worker2", str(ROOT / "deploy" / "manage.sh"), "scrub", env=env, timeout=120)
    return result.returncode, json.loads(result.stdout)


def wait_until_hashed(cluster: Cluster) -> int:
    """Every stored file hashed by the workers (the scrub checks hashed ones); how many are hashed."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        counts = json.loads(django(cluster, "import json; from portal.files.models import Blob; print(json.dumps(["
                                            "Blob.objects.filter(sha256__isnull=False).count(), "
                                            "Blob.objects.filter(integrity='pending').count()]))"))
        if not counts[1]:
            return counts[0]
        assert time.monotonic() < deadline, f"{counts[1]} stored files still unhashed ({counts[0]} hashed)"
        time.sleep(1)


def kill_vol2_under_load(cluster: Cluster, token: str, space_id: int, files: dict[int, bytes]) -> tuple[Seen, dict]:
    """Two clients downloading ``files`` and two uploading new ones while vol2 is killed (until six uploads
    went through without it) and revived (until two more did); what they saw, the files they uploaded and
    the timeline."""
    seen, stop, made = Seen(), threading.Event(), {}

    def session() -> requests.Session:
        fresh = requests.Session()
        fresh.headers["Authorization"] = f"Bearer {token}"
        return fresh

    workers = [threading.Thread(target=downloader, args=(session(), cluster, files, seen, stop)) for _ in range(2)]
    workers += [threading.Thread(target=uploader, args=(session(), cluster, space_id, f"during{n}", made, seen, stop))
                for n in range(2)]
    for worker in workers:
        worker.start()
    try:
        time.sleep(1)
        killed_at = time.monotonic()
        cluster.kill("vol2")
        assert cluster.status()["vol2"]["up"] is False
        uploads, downloads = seen.uploads, seen.downloads
        while seen.uploads < uploads + 6 and time.monotonic() < killed_at + 30:
            time.sleep(0.5)
        timeline = {"killed_at": killed_at, "down_s": time.monotonic() - killed_at,
                    "uploads_while_down": seen.uploads - uploads, "downloads_while_down": seen.downloads - downloads}
        cluster.revive("vol2")
        revived_at, uploads = time.monotonic(), seen.uploads
        while seen.uploads < uploads + 2 and time.monotonic() < revived_at + 30:
            time.sleep(0.5)
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=120)
    return seen, {**timeline, "made": made}


def report(seen: Seen, timeline: dict, fixed: str, replicas: dict, stored: int, scrubbed: dict, seconds: dict) -> str:
    failures = {f"{step}: {outcome}": count for (step, outcome), count in sorted(seen.upload_failures.items())}
    last_failure = seen.last_failure_at - timeline["killed_at"] if seen.last_failure_at else None
    return json.dumps({
        "vol2_down_s": round(timeline["down_s"], 1),
        "downloads": seen.downloads, "downloads_while_vol2_down": timeline["downloads_while_down"],
        "download_failures": len(seen.download_failures), "slowest_download_s": round(seen.slowest_download, 2),
        "uploads": seen.uploads, "uploads_while_vol2_down": timeline["uploads_while_down"],
        "slowest_upload_s": round(seen.slowest_upload, 2), "uploads_retried": seen.retried_uploads,
        "failed_attempts": failures, "uploads_given_up": len(seen.gave_up),
        "last_failure_after_kill_s": None if last_failure is None else round(last_failure, 1),
        "fix_replication": fixed.strip().splitlines()[-6:] or "nothing to fix",
        "replicas_per_volume": dict(Counter(replicas.values())), "stored_files": stored,
        "scrub": {key: scrubbed[key] for key in ("checked", "ok", "mismatched", "missing", "bytes")},
        "seconds": {key: round(value, 1) for key, value in seconds.items()}}, indent=2)


def test_a_dead_volume_server_loses_no_download_or_upload_and_the_scrub_finds_every_file_intact(cluster, api,
                                                                                                  operator_token):
    space_id = new_space(api, cluster, f"Volumes {uuid.uuid4().hex[:8]}")
    files = [upload(api, cluster, space_id, f"before-{i}.bin", os.urandom(50_000 + i)) for i in range(8)]
    files = {node_id: download(api, cluster, node_id) for node_id in files}
    seen, timeline = kill_vol2_under_load(cluster, operator_token, space_id, files)

    began = time.monotonic()
    fixed = weed_shell(cluster, "lock", "volume.fix.replication -apply", "unlock")
    replicas = replica_counts(cluster)
    repaired = time.monotonic()
    stored = wait_until_hashed(cluster)
    hashed = time.monotonic()
    code, scrubbed = scrub(cluster)
    seconds = {"fix_replication": repaired - began, "hashing_settled": hashed - repaired,
               "scrub": time.monotonic() - hashed}
    after = {node_id: download(api, cluster, node_id) == data for node_id, data in timeline["made"].items()}
    print("\nvol2 killed during downloads and uploads:", report(seen, timeline, fixed, replicas, stored, scrubbed,
                                                               seconds))

    assert seen.download_failures == [] and timeline["downloads_while_down"] > len(files)
    assert replicas and set(replicas.values()) == {2}, replicas   # replication 001: two copies of every volume
    assert seen.gave_up == [] and timeline["uploads_while_down"] >= 1
    # The portal never answers 500 (a part PUT goes to the S3 gateway: its answer is the store's).
    assert not [(step, outcome) for step, outcome in seen.upload_failures if step != "part"
                and outcome.startswith("500")], seen.upload_failures
    assert after and all(after.values())
    assert (code, scrubbed["checked"], scrubbed["ok"], scrubbed["bad_blobs"]) == (0, stored, stored, [])
