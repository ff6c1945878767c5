"""deploy/cluster: Coffer as twelve hosts (network namespaces on one bridge) behind HAProxy, over a
SeaweedFS cluster, PostgreSQL and Redis of their own. Needs root; reaches the hosts over the bridge."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = ROOT / "deploy" / "cluster"
LB = "http://10.77.0.10"  # deploy/cluster/hosts.toml
HOSTS = ["lb", "portal1", "portal2", "worker1", "worker2", "s3-master", "vol1", "vol2", "vol3", "s3-gw", "db", "redis"]
UP_TIMEOUT = 180

pytestmark = pytest.mark.cluster


def cluster(state: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([str(CLUSTER / args[0]), "--dir", str(state), *args[1:]], capture_output=True, text=True, check=False,
                          timeout=timeout)


def status(state: Path) -> dict:
    return json.loads(cluster(state, "status", "--json").stdout)


def manage(state: Path, *args: str) -> str:
    """manage.py on portal1, with that host's settings (deploy/manage.sh, as the operator runs it)."""
    env = {"PATH": os.environ["PATH"], "COFFER_ENV": str(state / "hosts" / "portal1" / "coffer.env")}
    result = subprocess.run(["ip", "netns", "exec", "cf-portal1", str(ROOT / "deploy" / "manage.sh"), *args],
                            capture_output=True, text=True, env=env, cwd=ROOT, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture(scope="module")
def state():
    if os.geteuid() != 0 or not shutil.which("haproxy"):
        pytest.skip("deploy/cluster needs root and HAProxy")
    folder = Path(tempfile.mkdtemp(prefix="coffer-cluster-", dir="/tmp"))
    try:
        started = cluster(folder, "up", timeout=UP_TIMEOUT)
        assert started.returncode == 0, started.stderr + started.stdout
        yield folder
    finally:
        stopped = cluster(folder, "down")
        shutil.rmtree(folder, ignore_errors=True)
        assert stopped.returncode == 0, stopped.stderr


@pytest.fixture(scope="module")
def api(state):
    manage(state, "user_create", "operator", "--staff")
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {manage(state, 'issue_token', 'operator')}"
    return session


def upload(api, space_id: int, path: str, data: bytes) -> int:
    """The upload flow: start at the portal, PUT the parts to the S3 gateway's presigned URLs, complete."""
    started = api.post(f"{LB}/api/v1/uploads", json={"space": space_id, "path": path, "size": len(data)}, timeout=30)
    assert started.status_code == 201, started.text
    session = started.json()
    for part in session["parts"]:
        assert part["url"].startswith("http://10.77.0.35:8333/"), part["url"]  # s3-gw, not through the portal
        offset = (part["number"] - 1) * session["part_size"]
        answer = requests.put(part["url"], data=data[offset:offset + session["part_size"]], timeout=30)
        assert answer.status_code == 200, answer.text
    done = api.post(f"{LB}/api/v1/uploads/{session['id']}/complete", timeout=30)
    assert done.status_code == 201, done.text
    return done.json()["id"]


def download(api, node_id: int) -> bytes:
    answer = api.get(f"{LB}/api/v1/files/{node_id}/content", timeout=30)
    assert answer.status_code == 200, answer.text[:300]
    return answer.content


def test_every_host_is_up_and_healthy(state):
    report = status(state)
    assert list(report) == HOSTS
    assert {host: (s["up"], s["healthy"]) for host, s in report.items()} == {host: (True, True) for host in HOSTS}
    assert cluster(state, "status").returncode == 0


def test_a_file_uploaded_through_the_balancer_comes_back_byte_identical(state, api):
    space = api.post(f"{LB}/api/v1/spaces/", json={"name": "Cluster"}, timeout=30)
    assert space.status_code == 201, space.text
    data = os.urandom(300_000)
    node_id = upload(api, space.json()["id"], "hello.bin", data)
    assert hashlib.sha256(download(api, node_id)).digest() == hashlib.sha256(data).digest()


def test_a_killed_portal_is_routed_around_and_comes_back_on_revive(state, api):
    assert cluster(state, "kill", "portal1").returncode == 0
    report = status(state)
    assert (report["portal1"]["up"], report["portal1"]["healthy"]) == (False, False)
    assert report["portal2"]["healthy"] and report["lb"]["healthy"]
    assert cluster(state, "status").returncode == 3  # not every host healthy
    space = api.post(f"{LB}/api/v1/spaces/", json={"name": "While portal1 is down"}, timeout=30)
    assert space.status_code == 201, space.text  # the dead portal refused the connection; HAProxy redispatched
    data = os.urandom(70_000)
    node_id = upload(api, space.json()["id"], "during.bin", data)
    assert [download(api, node_id) == data for _ in range(4)] == [True] * 4

    revived = cluster(state, "revive", "portal1", timeout=120)
    assert revived.returncode == 0, revived.stderr
    assert status(state)["portal1"] == {"up": True, "healthy": True, "problem": ""}
    assert api.get(f"{LB}/api/v1/spaces/", timeout=30).status_code == 200


def test_an_unknown_host_is_refused_with_the_list_of_hosts(state):
    answer = cluster(state, "kill", "portal9")
    assert answer.returncode == 2
    assert "unknown host 'portal9'" in answer.stderr and "portal2" in answer.stderr
    assert all(s["healthy"] for s in status(state).values())  # nothing was killed


def test_status_of_a_folder_with_no_cluster_says_every_host_is_down(tmp_path):
    answer = cluster(tmp_path, "status", "--json")
    assert answer.returncode == 3
    assert {s["up"] for s in json.loads(answer.stdout).values()} == {False}
