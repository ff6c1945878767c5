"""bench/cluster_share.py's command line: bad input is refused with a message that says what to write,
before anything is started. Only the parser runs here (no cluster is brought up)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PARSE_ONLY = "import sys; sys.path.insert(0, 'bench'); import cluster_share; print(vars(cluster_share.parse_args(sys.argv[1:])))"


def _parse(*argv: str, net_env: str | None = None) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "COFFER_CLUSTER_NET"}
    if net_env is not None:
        env["COFFER_CLUSTER_NET"] = net_env
    return subprocess.run([sys.executable, "-c", PARSE_ONLY, *argv], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60, check=False)


def test_good_arguments_and_the_network_number_from_the_environment_are_taken():
    assert "'net': 7, 'runs': 3, 'seconds': 4" in _parse("--runs", "3", "--seconds", "4", net_env="7").stdout


@pytest.mark.parametrize(("argv", "net_env", "message"), [
    ((), None, "say which network number to use: --net N (or $COFFER_CLUSTER_NET)"),
    (("--net", "0"), None, "--net 0: from 1 to 200"),
    (("--net", "201"), None, "--net 201: from 1 to 200"),
    (("--net", "7", "--runs", "0"), None, "--runs must be at least 1"),
    (("--net", "7", "--connections", "2", "--wrk-threads", "4"), None, "--wrk-threads must not exceed --connections"),
    (("--seconds", "ten"), "7", "argument --seconds: invalid int value: 'ten'"),
])
def test_bad_arguments_are_refused_with_what_to_write(argv, net_env, message):
    done = _parse(*argv, net_env=net_env)
    assert done.returncode == 2 and not done.stdout
    assert message in done.stderr, done.stderr


HAPROXY_LOG = """\
10.77.7.1:41000 [03/Dec/2026:12:16:40.100] http portal/portal1 0/0/0/52/52 200 5210 - - ---- 9/9/8/4/0 0/0 "GET /s/t HTTP/1.1"
10.77.7.1:41002 [03/Dec/2026:12:16:40.120] http portal/portal2 0/0/0/49/49 302 911 - - ---- 9/9/8/4/0 0/0 "GET /s/t/download HTTP/1.1"
[WARNING]  (17653) : Server portal/portal1 is DOWN, reason: Layer7 timeout, check duration: 1001ms. 0 active and 0 backup servers left.
Server portal/portal1 is DOWN, reason: Layer7 timeout, check duration: 1001ms. 0 active and 0 backup servers left.
10.77.7.1:41004 [03/Dec/2026:12:16:41.000] http portal/<NOSRV> -1/-1/-1/-1/0 503 217 - - SC-- 9/9/0/0/0 0/0 "GET /s/t HTTP/1.1"
[WARNING]  (17653) : Server portal/portal1 is UP, reason: Layer7 check passed, code: 200, check duration: 40ms.
"""


def test_the_balancer_log_says_who_answered_with_what_and_which_portal_went_down(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    import cluster_share

    cluster = cluster_share.Cluster(tmp_path, 7)
    cluster.lb_log.parent.mkdir(parents=True)
    cluster.lb_log.write_text(HAPROXY_LOG)

    served, statuses = cluster.served(0)
    assert served == {"portal1": 1, "portal2": 1, "<NOSRV>": 1} and statuses == {"200": 1, "302": 1, "503": 1}
    assert cluster.marked(0, "DOWN") == ["portal1"] and cluster.marked(0, "UP") == ["portal1"]
    assert cluster.served(cluster.log_size()) == ({}, {}) and cluster.marked(cluster.log_size(), "DOWN") == []
    assert cluster.lb_state("portal1") == "UP" and cluster.lb_state("portal2") == "UP"  # the last verdict; UP before any
    with cluster.lb_log.open("a") as log:
        log.write("Server portal/portal1 is DOWN, reason: Layer4 connection problem.\nServer portal/portal1 is U")
    assert cluster.lb_state("portal1") == "DOWN"  # a half-written line is read once it is whole
    cluster.wait_for("portal1", "DOWN")
    monkeypatch.setattr(cluster_share, "LB_STATE_DEADLINE", 0)
    with pytest.raises(RuntimeError, match="HAProxy did not mark portal2 DOWN within 0 s"):
        cluster.wait_for("portal2", "DOWN")
