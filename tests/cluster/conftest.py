"""One deploy/cluster for every test under tests/cluster: `up` once (30–40 s), `down` after the last.

A test that kills a host revives it before it ends; `cluster` checks between tests that every host is
healthy again and revives any that is not, so one test's fault never leaks into the next.
$COFFER_CLUSTER_NET picks the network number (deploy/cluster --net), so two runs can share a machine."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = ROOT / "deploy" / "cluster"
sys.path.insert(0, str(CLUSTER))
from cluster import STAGES, load_config  # noqa: E402 - deploy/cluster is a folder of scripts, not a package

# What the tests expect `status` to list, in its order (hosts.toml's).
HOSTS = ["lb", "portal1", "portal2", "worker1", "worker2", "s3-master", "vol1", "vol2", "vol3", "s3-gw", "db", "redis"]
START_ORDER = [host for stage in STAGES for host in stage]  # servers before their clients
UP_TIMEOUT = 300  # about 40 s alone; minutes when the machine is shared by several test runs
REVIVE_TIMEOUT = 120


@dataclass(frozen=True)
class Cluster:
    state: Path
    net: int

    def address(self, host: str) -> str:
        """A host's address (deploy/cluster/hosts.toml, shifted to this network number)."""
        return load_config(self.net)["hosts"][host]

    @property
    def lb(self) -> str:
        return f"http://{self.address('lb')}"

    def namespace(self, host: str) -> str:
        return load_config(self.net)["network"]["prefix_name"] + host

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([str(CLUSTER / args[0]), "--dir", str(self.state), "--net", str(self.net), *args[1:]],
                              capture_output=True, text=True, check=False, timeout=timeout)

    def status(self) -> dict:
        return json.loads(self.run("status", "--json").stdout)

    def kill(self, host: str) -> None:
        killed = self.run("kill", host)
        assert killed.returncode == 0, killed.stderr

    def revive(self, host: str) -> None:
        revived = self.run("revive", host, timeout=REVIVE_TIMEOUT)
        assert revived.returncode == 0, revived.stderr + revived.stdout

    def in_host(self, host: str, *argv: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "netns", "exec", self.namespace(host), *argv], capture_output=True, text=True,
                              env=env, cwd=ROOT, timeout=timeout, check=False)

    def manage(self, *args: str, host: str = "portal1") -> str:
        """manage.py on a portal host, with that host's settings (deploy/manage.sh, as the operator runs it)."""
        env = {"PATH": os.environ["PATH"], "COFFER_ENV": str(self.state / "hosts" / host / "coffer.env")}
        result = self.in_host(host, str(ROOT / "deploy" / "manage.sh"), *args, env=env)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def log(self, host: str, name: str) -> str:
        path = self.state / "hosts" / host / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else f"({path} missing)"

    def heal(self) -> None:
        """Start again every host that is down, servers before their clients (a portal is not healthy
        while its database is down), then every host still not healthy."""
        down = [host for host, report in self.status().items() if not report["up"]]
        for host in sorted(down, key=START_ORDER.index):
            self.revive(host)
        for host, report in self.status().items():
            if not report["healthy"]:
                self.revive(host)


@pytest.fixture(scope="package")
def cluster_up():
    if os.geteuid() != 0 or not shutil.which("haproxy"):
        pytest.fail("deploy/cluster needs root and HAProxy (make .venv/.dev-installed installs HAProxy)")
    folder = Path(tempfile.mkdtemp(prefix="coffer-cluster-", dir="/tmp"))
    cluster = Cluster(folder, int(os.environ.get("COFFER_CLUSTER_NET", "0")))
    try:
        started = cluster.run("up", timeout=UP_TIMEOUT)
        assert started.returncode == 0, started.stderr + started.stdout
        yield cluster
    finally:
        stopped = cluster.run("down")
        shutil.rmtree(folder, ignore_errors=True)
        assert stopped.returncode == 0, stopped.stderr


@pytest.fixture
def cluster(cluster_up):
    """The session's cluster, every host healthy when the test starts and again after it."""
    cluster_up.heal()
    yield cluster_up
    cluster_up.heal()


@pytest.fixture(scope="package")
def operator_token(cluster_up) -> str:
    cluster_up.manage("user_create", "operator", "--staff")
    return cluster_up.manage("issue_token", "operator")


@pytest.fixture
def api(cluster, operator_token):
    """An operator's API session through the balancer."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {operator_token}"
    yield session
    session.close()
