"""A redis-server of a test's own, on a free loopback port in a temporary
folder, that the test may stop and start again (the machine's shared Redis
is never touched). ``stop()`` kills it the way a crash or an operator would;
``start()`` brings it back on the same port, empty unless ``appendonly``."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import pytest
import redis

from tests.support.ready import wait_until_answers

READY_DEADLINE = 15


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivateRedis:
    def __init__(self, folder: Path, *, appendonly: bool = False):
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server was not found on PATH (apt-get install redis-server)")
        self.binary, self.folder, self.appendonly = binary, folder, appendonly
        self.port = _free_port()
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
                   "--save", "", "--appendonly", "yes" if self.appendonly else "no", "--daemonize", "no",
                   "--logfile", str(self.folder / "redis.log")]
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        wait_until_answers(self.process, client.ping, within=READY_DEADLINE, not_yet=(redis.RedisError,),
                           failure=self._failed)

    def _failed(self, reason: str) -> RuntimeError:
        log = (self.folder / "redis.log").read_text(errors="replace")[-2000:]
        return RuntimeError(f"redis-server on port {self.port} {reason}:\n{log}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=15)
        self.process = None


@pytest.fixture
def private_redis(tmp_path):
    """A PrivateRedis running for the test (empty, no persistence), killed after it."""
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()
