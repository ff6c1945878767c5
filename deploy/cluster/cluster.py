#!/usr/bin/env python3
"""Coffer as several hosts on one machine: one network namespace per host (hosts.toml), joined by a
bridge on a private range. Run as root. README, "Running on several hosts".

    cluster.py up [--dir STATE]        build the namespaces, start every host, prepare the database and bucket
    cluster.py status [--json]         each host: up/down and its health (exit 3 when one is not healthy)
    cluster.py kill HOST               SIGKILL every process of HOST (a machine that lost power)
    cluster.py revive HOST             start HOST's services again
    cluster.py down                    stop everything; remove every namespace, veth and the bridge
    --net N (or $COFFER_CLUSTER_NET)   a second cluster beside the first: 10.77.N.0/24, namespaces cfN-HOST

Logs: STATE/hosts/HOST/*.log. The state folder keeps the secrets, data and PIDs between commands.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import tomllib
from pathlib import Path

from health import check_host
from hosts import Layout, clear_stale_lock_files, host_services, prepare_coffer, prepare_database, prepare_files
from netns import (
    ClusterError,
    Network,
    alive,
    kill_namespaces,
    load_pids,
    namespace_pids,
    namespaces,
    save_pids,
    start,
    stop_namespaces,
)

HERE = Path(__file__).resolve().parent
DEFAULT_STATE = Path("/tmp/coffer-cluster")
# Start order: what a host needs is started (and answers) before it.
STAGES = [["db", "redis", "s3-master"], ["vol1", "vol2", "vol3"], ["s3-gw"],
          ["portal1", "portal2", "worker1", "worker2"], ["lb"]]
READY_DEADLINE = 90
STOP_GRACE = 5


def load_config(number: int = 0) -> dict:
    """hosts.toml; with a network number N > 0, the same hosts on 10.77.N.0/24 with names prefixed cfN-,
    so several clusters can run side by side on one machine."""
    with open(HERE / "hosts.toml", "rb") as f:
        config = tomllib.load(f)
    if not 0 <= number <= 200:
        raise ClusterError(f"network number {number}: from 0 to 200")
    if number:
        net = config["network"]
        shift = lambda address: address.replace("10.77.0.", f"10.77.{number}.", 1)  # noqa: E731
        net["gateway"] = shift(net["gateway"])
        net["bridge"] = net["bridge"].replace("cf-", f"cf{number}-", 1)
        net["prefix_name"] = f"cf{number}-"
        config["hosts"] = {host: shift(address) for host, address in config["hosts"].items()}
    return config


def network(config: dict) -> Network:
    net = config["network"]
    return Network(net["bridge"], net["gateway"], net["prefix"], net["prefix_name"])


def wait_ready(layout: Layout, hosts: list[str]) -> None:
    deadline = time.monotonic() + READY_DEADLINE
    pending = list(hosts)
    while pending:
        for host in list(pending):
            if not host_running(layout, host):
                raise ClusterError(f"{host} exited while starting; see {layout.host_dir(host)}")
            if check_host(layout, host) is None:
                pending.remove(host)
        if pending and time.monotonic() > deadline:
            raise ClusterError(f"not healthy within {READY_DEADLINE} s: {', '.join(pending)}; see their logs under "
                               f"{layout.state / 'hosts'}")
        time.sleep(0.2)  # polling starting servers until the deadline


def start_host(layout: Layout, host: str) -> None:
    ns = layout.net.namespace(host)
    pids = {service.name: start(ns, service, layout.host_dir(host)) for service in host_services(layout, host)}
    save_pids(layout.host_dir(host) / "pids.json", pids)


def host_running(layout: Layout, host: str) -> bool:
    pids = load_pids(layout.host_dir(host) / "pids.json")
    return bool(pids) and all(alive(pid) for pid in pids.values())


def up(layout: Layout) -> None:
    began = time.monotonic()
    if layout.net.exists():  # never tear down a cluster this `up` did not start
        raise ClusterError(f"bridge {layout.net.bridge} already exists: another cluster is up (run `down` first)")
    try:
        prepare_files(layout)
        layout.net.create(layout.hosts)
        for stage in STAGES:
            if stage[0] == "portal1":
                prepare_database(layout)
                prepare_coffer(layout)
            for host in stage:
                start_host(layout, host)
            wait_ready(layout, stage)
    except BaseException:
        print("up failed; bringing down what was started", file=sys.stderr)
        down(layout)
        raise
    print(f"cluster up in {time.monotonic() - began:.0f} s; portal: http://{layout.hosts['lb']}/ (state: {layout.state})")


def down(layout: Layout) -> None:
    hosts, problems = list(layout.hosts), []
    for stage in reversed(STAGES):  # clients before their servers: each stops without waiting for a dead one
        try:
            stop_namespaces([ns for ns in map(layout.net.namespace, stage) if ns in namespaces()], STOP_GRACE)
        except ClusterError as exc:
            problems.append(str(exc))
    for host in hosts:
        (layout.host_dir(host) / "pids.json").unlink(missing_ok=True)
    problems += layout.net.remove(hosts)
    if problems:
        raise ClusterError("; ".join(problems))


def status(layout: Layout) -> dict[str, dict]:
    report = {}
    for host in layout.hosts:
        running = host_running(layout, host)
        problem = check_host(layout, host) if running else "not running"
        report[host] = {"up": running, "healthy": problem is None, "problem": problem or ""}
    return report


def kill(layout: Layout, host: str) -> None:
    kill_namespaces([layout.net.namespace(host)])


def revive(layout: Layout, host: str) -> None:
    ns = layout.net.namespace(host)
    if ns not in namespaces():
        raise ClusterError(f"{host}: no namespace {ns}; is the cluster up?")
    if namespace_pids(ns):
        kill_namespaces([ns])
    clear_stale_lock_files(layout, host)
    start_host(layout, host)
    wait_ready(layout, [host])


def parse(argv: list[str]) -> argparse.Namespace:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--dir", type=Path, default=Path(os.environ.get("COFFER_CLUSTER_DIR", DEFAULT_STATE)),
                        help=f"state folder (default {DEFAULT_STATE}, or $COFFER_CLUSTER_DIR)")
    common.add_argument("--net", type=int, default=int(os.environ.get("COFFER_CLUSTER_NET", "0")),
                        help="network number N: hosts on 10.77.N.0/24, namespaces cfN-HOST (default 0: "
                             "10.77.0.0/24 and cf-HOST as hosts.toml says), or $COFFER_CLUSTER_NET")
    parser = argparse.ArgumentParser(prog="deploy/cluster", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", parents=[common])
    commands.add_parser("down", parents=[common])
    commands.add_parser("status", parents=[common]).add_argument("--json", action="store_true")
    for name in ("kill", "revive"):
        commands.add_parser(name, parents=[common]).add_argument("host")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse(argv)
    if os.geteuid() != 0:
        print("deploy/cluster runs as root (it creates network namespaces)", file=sys.stderr)
        return 2
    try:
        config = load_config(args.net)
    except ClusterError as exc:
        print(exc, file=sys.stderr)
        return 2
    layout = Layout(args.dir.resolve(), network(config), config)
    if getattr(args, "host", None) and args.host not in layout.hosts:
        print(f"unknown host {args.host!r}; the hosts: {', '.join(layout.hosts)}", file=sys.stderr)
        return 2
    try:
        if args.command == "status":
            return show_status(status(layout), args.json)
        {"up": up, "down": down}.get(args.command, lambda lay: None)(layout)
        if args.command in ("kill", "revive"):
            {"kill": kill, "revive": revive}[args.command](layout, args.host)
    except ClusterError as exc:
        print(f"{args.command}: {exc}", file=sys.stderr)
        return 1
    return 0


def show_status(report: dict[str, dict], as_json: bool) -> int:
    if as_json:
        print(json.dumps(report))
    else:
        width = max(map(len, report))
        for host, state in report.items():
            health = "healthy" if state["healthy"] else state["problem"]
            print(f"{host:<{width}}  {'up' if state['up'] else 'down':<4}  {health}")
    return 0 if all(state["healthy"] for state in report.values()) else 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
