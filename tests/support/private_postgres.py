"""A PostgreSQL server of a test's own (Debian's binaries, as deploy/cluster uses them): a throwaway
cluster in a temporary folder on a free loopback port, holding a copy of the test database, that the test
may crash and start again (the machine's PostgreSQL is never touched). ``crash()`` stops it the way a
power cut would (SIGQUIT: every backend exits at once, no checkpoint; the next start recovers);
``start()`` brings it back on the same port and returns once it accepts connections."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest

from tests.support.coedit import free_port
from tests.support.ready import wait_until_answers

READY_DEADLINE = 30
PG_BIN = max(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), default=None)


class PrivatePostgres:
    def __init__(self):
        if PG_BIN is None:
            raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql)")
        # PostgreSQL refuses to run as root: as root, the cluster belongs to `postgres`, in a folder it may enter.
        self.as_postgres = os.geteuid() == 0
        self.folder = Path(tempfile.mkdtemp(prefix="coffer-pg-"))
        if self.as_postgres:
            shutil.chown(self.folder, "postgres", "postgres")
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self._run(str(PG_BIN / "initdb"), "-D", str(self.folder / "data"), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--no-sync")

    @property
    def _user(self) -> dict:
        return {"user": "postgres", "group": "postgres", "extra_groups": []} if self.as_postgres else {}

    def _run(self, *argv: str, stdin=None) -> None:
        done = subprocess.run(argv, stdin=stdin, capture_output=True, text=True, check=False, cwd=self.folder,
                              **self._user)
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {done.stderr[-2000:]}")

    def url(self, name: str = "coffer") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def start(self) -> None:
        with open(self.folder / "postgres.log", "ab") as log:
            self.process = subprocess.Popen(
                [str(PG_BIN / "postgres"), "-D", str(self.folder / "data"), "-c", "listen_addresses=127.0.0.1",
                 "-c", f"port={self.port}", "-c", f"unix_socket_directories={self.folder}", "-c", "fsync=off"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=self.folder, **self._user)
        wait_until_answers(self.process, lambda: psycopg.connect(self.url("postgres"), connect_timeout=2).close() is None,
                           within=READY_DEADLINE, not_yet=(psycopg.OperationalError,),  # not listening, or recovering
                           failure=self._failed)

    def _failed(self, reason: str) -> RuntimeError:
        tail = (self.folder / "postgres.log").read_text(errors="replace")[-2000:]
        return RuntimeError(f"postgres on port {self.port} {reason}:\n{tail}")

    def crash(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            self.process.wait(timeout=30)
        self.process = None

    def copy_database(self, source: dict, name: str = "coffer") -> None:
        """A copy of the database of Django's ``source`` settings (schema and rows) as ``name``."""
        self._run(str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        env = {**os.environ, "PGPASSWORD": source.get("PASSWORD") or ""}
        dump = subprocess.Popen([str(PG_BIN / "pg_dump"), "--no-owner", "--no-privileges", "-h", source["HOST"],
                                 "-p", str(source["PORT"] or 5432), "-U", source["USER"], source["NAME"]],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            self._run(str(PG_BIN / "psql"), "-q", "-X", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
                      str(self.port), "-U", "postgres", "-d", name, stdin=dump.stdout)
        finally:
            dump.stdout.close()
            problem = dump.stderr.read().decode(errors="replace")
            if dump.wait(60) != 0:
                raise RuntimeError(f"pg_dump failed: {problem[-2000:]}")

    def remove(self) -> None:
        self.crash()
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def private_postgres():
    """A PrivatePostgres running for the test (no database of Coffer's yet: ``copy_database``), removed after."""
    server = PrivatePostgres()
    try:
        server.start()
        yield server
    finally:
        server.remove()
