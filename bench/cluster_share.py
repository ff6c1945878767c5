"""Requests per second of a share link's public page and download through
deploy/cluster's HAProxy with two portals and with one: bench/share.py's load
against the balancer, the ratio two portals / one portal printed.

Brings up its own deploy/cluster (run as root; ``--net N`` puts it on
10.77.N.0/24 with namespaces cfN-HOST, beside any other cluster), makes an
operator and a token with deploy/manage.sh on portal1, uploads a 3 KB file
through the balancer and shares it with a download link. Then, in rounds, the
same keep-alive load (wrk, ``--connections`` for ``--seconds``) on

- page:     GET /s/{token}            (200, the file's page; an audit event)
- download: GET /s/{token}/download   (302 to a presigned URL, not followed; an
                                       audit event and a counted download)

once with both portals behind HAProxy and once with portal2 killed
(deploy/cluster/kill: HAProxy's health check marks it DOWN and sends every
request to portal1; revived after). The arms alternate which goes first. The
HAProxy log proves who answered: both portals in the two-portal arm, portal1
alone in the other. Each arm also gets a single-request p50 (sequential GETs
over one keep-alive connection, no load beside it). A measurement during
which HAProxy's health check took a busy portal out is made again.

Every host runs on this machine's cores, so on a two-core machine the ratio
shows what the balancer and a second portal cost or give when they share the
CPU, not how Coffer scales over real hosts.

The cluster is brought down at the end, also on errors, Ctrl+C or SIGTERM.

Run (root): .venv/bin/python bench/cluster_share.py --net 7 [--runs 5] [--seconds 10] [--connections 8]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import requests
from harness import ROOT, log, median, stop_on_sigterm, table, temp_dir
from share import EXPECT, _shared_file, p50_ms, python_rps, wrk_rps

CLUSTER = ROOT / "deploy" / "cluster"
UP_TIMEOUT = 300
REVIVE_TIMEOUT = 180
LB_STATE_DEADLINE = 60
ATTEMPTS = 3
NAMES = ("page", "download")
ARMS = ("two portals", "one portal")


# --- command line ---------------------------------------------------------------------

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--net", type=int, default=None,
                        help="deploy/cluster network number N, 1-200: hosts on 10.77.N.0/24, namespaces cfN-HOST "
                             "(default $COFFER_CLUSTER_NET); it must not be in use")
    parser.add_argument("--runs", type=int, default=5, help="rounds, each measuring both arms (default 5)")
    parser.add_argument("--seconds", type=int, default=10, help="length of one measurement (default 10)")
    parser.add_argument("--connections", type=int, default=8,
                        help="concurrent keep-alive connections to the balancer, the same in both arms "
                             "(default 8, as share.py: one portal's 2 workers x 4 threads, so a lone portal "
                             "is kept busy without a queue that delays its health check)")
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (default 1)")
    parser.add_argument("--requests", type=int, default=100,
                        help="sequential requests per URL, arm and round for the single-request p50 (default 100)")
    parser.add_argument("--python-client", action="store_true", help="use the Python client even if wrk is "
                                                                     "installed")
    args = parser.parse_args(argv)
    if args.net is None:
        env = os.environ.get("COFFER_CLUSTER_NET", "")
        if not env.isdigit():
            parser.error("say which network number to use: --net N (or $COFFER_CLUSTER_NET), one no other "
                         "cluster on this machine uses")
        args.net = int(env)
    if not 1 <= args.net <= 200:
        parser.error(f"--net {args.net}: from 1 to 200 (0 is the default cluster's; leave it to deploy/cluster)")
    for name in ("runs", "seconds", "connections", "wrk_threads", "requests"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.wrk_threads > args.connections:
        parser.error("--wrk-threads must not exceed --connections (wrk gives every thread a connection)")
    return args


# --- the cluster ------------------------------------------------------------------------

class Cluster:
    """deploy/cluster on network ``net`` with its state in ``state``: the commands, manage.py on
    portal1, the balancer's URL and its log."""

    def __init__(self, state: Path, net: int):
        self.state, self.net = state, net
        self.lb = f"http://10.77.{net}.10"
        self.lb_log = state / "hosts" / "lb" / "haproxy.log"
        self._scanned, self._states = 0, {}
        self.repeats = 0  # measurements made again because HAProxy took a portal out meanwhile

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([str(CLUSTER / args[0]), "--dir", str(self.state), "--net", str(self.net), *args[1:]],
                              capture_output=True, text=True, check=False, timeout=timeout)

    def command(self, *args: str, timeout: float = 120) -> None:
        done = self.run(*args, timeout=timeout)
        if done.returncode:
            raise RuntimeError(f"deploy/cluster/{' '.join(args)} failed ({done.returncode}):\n"
                               f"{done.stderr}{done.stdout}")

    def manage(self, *args: str) -> str:
        """deploy/manage.sh in portal1's namespace, with its settings, as an operator runs it."""
        env = {"PATH": os.environ["PATH"], "COFFER_ENV": str(self.state / "hosts" / "portal1" / "coffer.env")}
        done = subprocess.run(["ip", "netns", "exec", f"cf{self.net}-portal1", str(ROOT / "deploy" / "manage.sh"),
                               *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=False)
        if done.returncode:
            raise RuntimeError(f"manage.py {args[0]} on portal1 failed:\n{done.stderr}")
        return done.stdout.strip()

    def log_size(self) -> int:
        return self.lb_log.stat().st_size

    def log_since(self, offset: int) -> str:
        with open(self.lb_log, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")

    def marked(self, offset: int, state: str) -> list[str]:
        """The servers HAProxy's health check marked ``state`` (UP or DOWN) in its log after ``offset``."""
        return sorted(set(re.findall(rf"Server portal/(\S+) is {state}", self.log_since(offset))))

    def lb_state(self, server: str) -> str:
        """``server``'s state (UP or DOWN) by HAProxy's last health-check verdict; UP before any."""
        with open(self.lb_log, "rb") as f:
            f.seek(self._scanned)
            text = f.read()
        text = text[:text.rfind(b"\n") + 1]  # whole lines only: a verdict may be half written
        self._scanned += len(text)
        self._states.update(re.findall(r"Server portal/(\S+) is (UP|DOWN)", text.decode(errors="replace")))
        return self._states.get(server, "UP")

    def wait_for(self, server: str, state: str) -> None:
        """Until HAProxy's health check has marked ``server`` ``state`` (UP or DOWN)."""
        deadline = time.monotonic() + LB_STATE_DEADLINE
        while self.lb_state(server) != state:
            if time.monotonic() > deadline:
                raise RuntimeError(f"HAProxy did not mark {server} {state} within {LB_STATE_DEADLINE} s "
                                   f"(see {self.lb_log})")
            time.sleep(0.2)  # polling HAProxy's log until the deadline

    def served(self, offset: int) -> tuple[Counter, Counter]:
        """Requests per server (``<NOSRV>``: none was up) and per status in HAProxy's log after ``offset``
        (health checks are not logged there)."""
        found = re.findall(r" http portal/(\S+) \S+ (\d{3}) ", self.log_since(offset))
        return Counter(server for server, _ in found), Counter(status for _, status in found)


def bridge_exists(net: int) -> bool:
    return subprocess.run(["ip", "link", "show", f"cf{net}-br0"], capture_output=True, check=False).returncode == 0


def check_machine(args: argparse.Namespace) -> None:
    if os.geteuid() != 0:
        raise SystemExit("bench/cluster_share.py runs as root (deploy/cluster creates network namespaces)")
    if not shutil.which("haproxy"):
        raise SystemExit("HAProxy is not installed (apt-get install -y haproxy)")
    if bridge_exists(args.net):
        raise SystemExit(f"network {args.net} is in use (bridge cf{args.net}-br0 exists): pick another --net; "
                         "this bench brings up and down a cluster of its own")


# --- the run ----------------------------------------------------------------------------

def prepare(cluster: Cluster, work: Path) -> dict[str, str]:
    """An operator, a space, a 3 KB file shared with a download link: the URLs to load."""
    cluster.manage("user_create", "operator", "--staff")
    token = cluster.manage("issue_token", "operator", "--name", "bench").splitlines()[-1]
    created = requests.post(f"{cluster.lb}/api/v1/spaces/", json={"name": "Bench"},
                            headers={"Authorization": f"Bearer {token}"}, timeout=60)
    if created.status_code != 201:
        raise RuntimeError(f"POST /spaces/: {created.status_code} {created.text[:300]}")
    server = SimpleNamespace(url=cluster.lb, token=token, space_id=created.json()["id"])
    shared = _shared_file(server, work)
    urls = {"page": f"{cluster.lb}/s/{shared['token']}", "download": f"{cluster.lb}/s/{shared['token']}/download"}
    with requests.Session() as session:
        for name, url in urls.items():
            answer = session.get(url, allow_redirects=False, timeout=60)
            if answer.status_code != EXPECT[name]:
                raise RuntimeError(f"{name}: GET {url} answered {answer.status_code}:\n{answer.text[:300]}")
    return urls


def measure(cluster: Cluster, work, portals: list[str], where: str) -> tuple[dict, Counter]:
    """``work()`` (one load measurement or one p50) once every portal of the arm is UP in HAProxy; done
    again (up to ATTEMPTS times) when the health check took a portal out meanwhile: then the balancer
    had fewer portals than the arm says, or none."""
    for attempt in range(1, ATTEMPTS + 1):
        for server in portals:
            cluster.wait_for(server, "UP")
        offset = cluster.log_size()
        result = work()
        served, statuses = cluster.served(offset)
        downs = cluster.marked(offset, "DOWN")
        if downs and attempt < ATTEMPTS:
            log(f"{where}: HAProxy marked {', '.join(downs)} DOWN meanwhile (too busy to answer its health "
                f"check within 1 s twice); again once it is UP")
            cluster.repeats += 1
            continue
        if downs or result["bad"] or result["errors"]:
            raise RuntimeError(f"{where}: {result['bad']} unexpected answers, {result['errors']} socket errors, "
                               f"HAProxy marked {downs or 'no portal'} DOWN ({attempt} attempts); it logged servers "
                               f"{dict(served)} and statuses {dict(statuses)}. A portal too busy to answer its "
                               f"health check within 1 s twice is taken out: try fewer --connections or a quieter "
                               f"machine")
        return result, served
    raise AssertionError("unreachable")


def p50(url: str, count: int, name: str) -> dict:
    """share.py's single-request p50; an unexpected answer (HAProxy's 503 with no portal UP) counted as bad."""
    try:
        return {"p50": p50_ms(url, count, EXPECT[name]), "bad": 0, "errors": 0}
    except SystemExit as refused:
        log(str(refused))
        return {"p50": None, "bad": 1, "errors": 0}


def measure_arm(cluster: Cluster, args, urls: dict[str, str], load, arm: str, run: int) -> dict:
    figures, portals = {}, ["portal1", "portal2"] if arm == ARMS[0] else ["portal1"]
    for name in NAMES:
        where = f"round {run}, {arm}, {name}"
        result, served = measure(cluster, partial(load, name, urls[name], args.seconds), portals, where)
        if arm == ARMS[0] and not (served["portal1"] and served["portal2"]):
            raise RuntimeError(f"{where}: HAProxy's log shows {dict(served)}, not both portals")
        if arm == ARMS[1] and set(served) != {"portal1"}:
            raise RuntimeError(f"{where}: HAProxy's log shows {dict(served)}, not portal1 alone")
        latency, _ = measure(cluster, partial(p50, urls[name], args.requests, name), portals, f"{where} p50")
        figures[name] = {"rps": result["rps"], "p50": latency["p50"], "load": os.getloadavg()[0]}
        log(f"{where}: {result['rps']:.0f} req/s, p50 {latency['p50']:.2f} ms, served by "
            f"{dict(sorted(served.items()))}, load average {figures[name]['load']:.1f}")
    return figures


def one_portal(cluster: Cluster) -> None:
    cluster.command("kill", "portal2")
    cluster.wait_for("portal2", "DOWN")


def two_portals(cluster: Cluster) -> None:
    cluster.command("revive", "portal2", timeout=REVIVE_TIMEOUT)
    cluster.wait_for("portal2", "UP")


def rounds(cluster: Cluster, args, urls: dict[str, str], load) -> dict:
    results = {arm: {name: {"rps": [], "p50": [], "load": []} for name in NAMES} for arm in ARMS}
    log("warming up (2 s per URL, not measured)")
    for name in NAMES:
        load(name, urls[name], 2)
    portals = 2
    for run in range(1, args.runs + 1):
        # Alternate which arm goes first: two, one | one, two | ... (one kill and one revive per round).
        for arm in (ARMS if run % 2 else ARMS[::-1]):
            wanted = 2 if arm == ARMS[0] else 1
            if wanted != portals:
                (two_portals if wanted == 2 else one_portal)(cluster)
                portals = wanted
            for name, figure in measure_arm(cluster, args, urls, load, arm, run).items():
                for key, value in figure.items():
                    results[arm][name][key].append(value)
    if portals == 1:
        two_portals(cluster)
    return results


def report(results: dict, args, use_wrk: bool, repeats: int) -> None:
    header = ["arm, URL", *[f"round {i}" for i in range(1, args.runs + 1)], "median"]
    rows = [[f"{arm}, {name}", *[f"{v:.0f}" for v in results[arm][name]["rps"]],
             f"{median(results[arm][name]['rps']):.0f}"] for name in NAMES for arm in ARMS]
    print(table(header, rows, title=f"\nreq/s through HAProxy, {args.seconds} s rounds, {args.connections} "
                                    f"connections, {'wrk' if use_wrk else 'Python client'}"))
    ratio_rows = []
    for name in NAMES:
        two, one = (median(results[arm][name]["rps"]) for arm in ARMS)
        p50_two, p50_one = (median(results[arm][name]["p50"]) for arm in ARMS)
        ratio_rows.append([name, f"{two:.0f}", f"{one:.0f}", f"{two / one:.2f}", f"{p50_two:.2f}", f"{p50_one:.2f}"])
    print()
    print(table(["URL", "two portals req/s", "one portal req/s", "two / one", "p50 ms two", "p50 ms one"],
                ratio_rows))
    loads = [value for arm in ARMS for name in NAMES for value in results[arm][name]["load"]]
    print(f"\nload average (1 min) after each measurement: {min(loads):.1f} to {max(loads):.1f}; measurements "
          f"made again because HAProxy's health check took a busy portal out meanwhile: {repeats}")
    print(f"\nEvery host of the cluster (HAProxy, both portals, workers, PostgreSQL, Redis, SeaweedFS) and the "
          f"load generator share this machine's {os.cpu_count()} cores: the ratio shows what the second portal "
          f"costs or gives on the same CPU, not scaling. On separate hosts each portal brings its own cores.")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    check_machine(args)
    stop_on_sigterm()
    use_wrk = shutil.which("wrk") is not None and not args.python_client
    if not use_wrk:
        log("wrk not found (apt-get install -y wrk); using the Python client, which understates every figure"
            if not args.python_client else "using the Python client")

    def load(name: str, url: str, seconds: float) -> dict:
        if use_wrk:
            return wrk_rps(url, seconds, args.connections, args.wrk_threads)
        return python_rps(url, seconds, args.connections, EXPECT[name])

    state = Path(tempfile.mkdtemp(prefix="coffer-bench-cluster-", dir="/tmp"))
    cluster, started = Cluster(state, args.net), False
    try:
        with temp_dir("coffer-bench-cluster-share-") as work:
            log(f"deploy/cluster/up --net {args.net} (state {state})")
            started = True  # from here on `down` runs: `up` may fail halfway, and Ctrl+C may land at any point
            cluster.command("up", timeout=UP_TIMEOUT)
            urls = prepare(cluster, work)
            log(f"sharing {urls['page']}")
            results = rounds(cluster, args, urls, load)
    finally:
        if started:
            stopped = cluster.run("down")
            if stopped.returncode:
                print(f"deploy/cluster/down --net {args.net} failed:\n{stopped.stderr}", file=sys.stderr)
            else:
                log("cluster down")
        shutil.rmtree(state, ignore_errors=True)
    report(results, args, use_wrk, cluster.repeats)


if __name__ == "__main__":
    main()
