"""The machinery under deploy/cluster: network namespaces on one bridge, and processes started,
recorded and killed per namespace. Nothing here knows what runs on which host (cluster.py does)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


class ClusterError(RuntimeError):
    """A step of the cluster failed; the message says which and where its log is."""


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["ip", *args], check=False, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise ClusterError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result


@dataclass(frozen=True)
class Network:
    bridge: str
    gateway: str
    prefix: int
    name_prefix: str

    def namespace(self, host: str) -> str:
        return self.name_prefix + host

    def exists(self) -> bool:
        return ip("link", "show", self.bridge, check=False).returncode == 0

    def create(self, hosts: dict[str, str]) -> None:
        if self.exists():
            raise ClusterError(f"bridge {self.bridge} already exists: another cluster is up (run `down` first)")
        ip("link", "add", self.bridge, "type", "bridge")
        ip("addr", "add", f"{self.gateway}/{self.prefix}", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        for host, address in hosts.items():
            self._add_host(host, address)

    def _add_host(self, host: str, address: str) -> None:
        ns = self.namespace(host)
        ip("netns", "add", ns)
        # The machine's end of the veth carries the namespace's name; inside, the host sees eth0.
        ip("link", "add", ns, "type", "veth", "peer", "name", "eth0", "netns", ns)
        ip("link", "set", ns, "master", self.bridge, "up")
        ip("-n", ns, "addr", "add", f"{address}/{self.prefix}", "dev", "eth0")
        ip("-n", ns, "link", "set", "eth0", "up")
        ip("-n", ns, "link", "set", "lo", "up")

    def remove(self, hosts) -> list[str]:
        """Every namespace, veth and the bridge, whatever state they are in; the problems left, if any."""
        problems = []
        for host in hosts:
            ns = self.namespace(host)
            if ns in namespaces():
                ip("netns", "del", ns, check=False)
            ip("link", "del", ns, check=False)  # gone with the namespace, unless it was never moved in
            if ns in namespaces() or ip("link", "show", ns, check=False).returncode == 0:
                problems.append(f"{ns} is still there")
        ip("link", "del", self.bridge, check=False)
        if self.exists():
            problems.append(f"bridge {self.bridge} is still there")
        return problems


def namespaces() -> set[str]:
    listed = ip("netns", "list", check=False).stdout
    return {line.split()[0] for line in listed.splitlines() if line.strip()}


def namespace_pids(ns: str) -> list[int]:
    """Every process in the namespace, started by us or not (a service's children included)."""
    if ns not in namespaces():
        return []
    listed = ip("netns", "pids", ns, check=False).stdout
    return [int(pid) for pid in listed.split()]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def stop_namespaces(nss: list[str], grace: float) -> None:
    """SIGTERM every process in the namespaces, SIGKILL what is left after ``grace`` seconds."""
    signal_all([pid for ns in nss for pid in namespace_pids(ns)], signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(alive(p) for ns in nss for p in namespace_pids(ns)):
        time.sleep(0.1)  # polling the processes' exit until the grace period ends
    kill_namespaces(nss)


def kill_namespaces(nss: list[str], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while True:
        left = [pid for ns in nss for pid in namespace_pids(ns) if alive(pid)]
        if not left:
            return
        if time.monotonic() > deadline:
            raise ClusterError(f"processes {left} survived SIGKILL")
        signal_all(left, signal.SIGKILL)
        time.sleep(0.05)  # polling until the kernel has reaped them


@dataclass(frozen=True)
class Service:
    """One long-running process of a host: its command, environment and log."""
    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path


def start(ns: str, service: Service, log_dir: Path) -> int:
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / f"{service.name}.log", "ab") as log:
        process = subprocess.Popen(
            ["ip", "netns", "exec", ns, *service.argv], env=service.env, cwd=service.cwd, stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return process.pid


def run_once(ns: str, argv: list[str], env: dict[str, str], cwd: Path, log: Path, timeout: float) -> None:
    """A one-off command inside the namespace (initdb, migrate); its output appended to ``log``."""
    with open(log, "ab") as out:
        out.write(f"$ {' '.join(argv)}\n".encode())
        out.flush()
        try:
            result = subprocess.run(["ip", "netns", "exec", ns, *argv], env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise ClusterError(f"{argv[0]} in {ns} took over {timeout:.0f} s; see {log}") from None
    if result.returncode != 0:
        raise ClusterError(f"{' '.join(argv[:3])} in {ns} failed ({result.returncode}); see {log}")


def save_pids(path: Path, pids: dict[str, int]) -> None:
    path.write_text(json.dumps(pids))


def load_pids(path: Path) -> dict[str, int]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
