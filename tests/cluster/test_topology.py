"""deploy/cluster: Coffer as twelve hosts (network namespaces on one bridge) behind HAProxy, over a
SeaweedFS cluster, PostgreSQL and Redis of their own. Needs root; reaches the hosts over the bridge."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from tests.cluster.client import download, new_space, upload
from tests.cluster.conftest import HOSTS, Cluster

pytestmark = pytest.mark.cluster


def test_every_host_is_up_and_healthy(cluster):
    report = cluster.status()
    assert list(report) == HOSTS
    assert {host: (s["up"], s["healthy"]) for host, s in report.items()} == {host: (True, True) for host in HOSTS}
    assert cluster.run("status").returncode == 0


def test_a_file_uploaded_through_the_balancer_comes_back_byte_identical(cluster, api):
    data = os.urandom(300_000)
    node_id = upload(api, cluster, new_space(api, cluster, "Cluster"), "hello.bin", data)
    assert hashlib.sha256(download(api, cluster, node_id)).digest() == hashlib.sha256(data).digest()


def test_a_killed_portal_is_routed_around_and_comes_back_on_revive(cluster, api):
    cluster.kill("portal1")
    report = cluster.status()
    assert (report["portal1"]["up"], report["portal1"]["healthy"]) == (False, False)
    assert report["portal2"]["healthy"] and report["lb"]["healthy"]
    assert cluster.run("status").returncode == 3  # not every host healthy
    # The dead portal refused the connection; HAProxy redispatched.
    space_id = new_space(api, cluster, "While portal1 is down")
    data = os.urandom(70_000)
    node_id = upload(api, cluster, space_id, "during.bin", data)
    assert [download(api, cluster, node_id) == data for _ in range(4)] == [True] * 4

    cluster.revive("portal1")
    assert cluster.status()["portal1"] == {"up": True, "healthy": True, "problem": ""}
    assert api.get(f"{cluster.lb}/api/v1/spaces/", timeout=30).status_code == 200


def test_a_database_revived_at_once_after_a_kill_starts_with_its_data(cluster, api):
    # Revived before its killed processes are reaped (they stay zombies until the adopting process reaps
    # them): the lock files still name the dead postmaster and must not keep the new one from starting.
    space_id = new_space(api, cluster, "Before the database kill")
    node_id = upload(api, cluster, space_id, "kept.bin", data := os.urandom(40_000))
    cluster.kill("db")
    cluster.revive("db")
    assert cluster.status()["db"] == {"up": True, "healthy": True, "problem": ""}
    assert download(api, cluster, node_id) == data


def test_an_unknown_host_is_refused_with_the_list_of_hosts(cluster):
    answer = cluster.run("kill", "portal9")
    assert answer.returncode == 2
    assert "unknown host 'portal9'" in answer.stderr and "portal2" in answer.stderr
    assert all(s["healthy"] for s in cluster.status().values())  # nothing was killed


def test_an_out_of_range_network_number_is_refused(cluster_up):
    answer = Cluster(cluster_up.state, 201).run("status")
    assert answer.returncode == 2
    assert "network number 201: from 0 to 200" in answer.stderr


def test_status_of_a_folder_with_no_cluster_says_every_host_is_down(tmp_path, cluster_up):
    answer = Cluster(tmp_path, cluster_up.net).run("status", "--json")
    assert answer.returncode == 3
    assert {s["up"] for s in json.loads(answer.stdout).values()} == {False}
