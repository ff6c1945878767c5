"""``run`` (watcher + reconciliation), SIGTERM, a killed agent and an
unreachable portal — against the live portal, the agent as a subprocess."""

from __future__ import annotations

import os
import signal
import socket
import statistics
import threading
import time

from .conftest import stop, wait_for

MiB = 1024 * 1024


def snapshots(**filters):
    from portal.backups.models import Snapshot

    return list(Snapshot.objects.filter(**filters).order_by("id"))


def indexed_packs() -> int:
    from portal.backups.models import Pack

    return Pack.objects.filter(indexed_at__isnull=False).count()


def checkpointed_files(home) -> int:
    """Files whose cache rows a checkpoint committed (read from the agent's own state DB)."""
    import sqlite3

    if not (home / "state.db").exists():
        return 0
    with sqlite3.connect(f"file:{home / 'state.db'}?mode=ro", uri=True, timeout=5) as db:
        try:
            return db.execute("SELECT count(*) FROM entries WHERE type='file' AND chunks IS NOT NULL").fetchone()[0]
        except sqlite3.OperationalError:
            return 0


def test_run_backs_up_a_saved_file_within_seconds_and_stops_cleanly_on_sigterm(enrolled, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "first.txt").write_text("first")
    enrolled("add", str(src))
    process = enrolled.start("run")
    try:
        wait_for(lambda: snapshots(), timeout=60, what="the start-up snapshot")
        latencies = []
        for n in range(3):
            before = len(snapshots())
            saved = time.monotonic()
            (src / f"saved-{n}.txt").write_text(f"saved {n}")
            wait_for(lambda before=before, n=n: len(snapshots()) > before and snapshots()[-1].files == n + 2,
                     timeout=30,
                     every=0.05, what=f"a snapshot with saved-{n}.txt")
            latencies.append(time.monotonic() - saved)
        print(f"saved → committed: {latencies}")
        assert statistics.median(latencies) < 5, latencies
        assert process.poll() is None
    finally:
        code = stop(process)
    assert code == 0, enrolled.log.read_text()
    assert "stopped cleanly" in enrolled.log.read_text()
    names = [e["name"] for e in enrolled.json("ls", "latest", str(src))]
    assert names == ["first.txt", "saved-0.txt", "saved-1.txt", "saved-2.txt"]


def test_run_sees_deletions_and_new_folders(enrolled, tmp_path):
    src = tmp_path / "src"
    (src / "old").mkdir(parents=True)
    (src / "old" / "gone.txt").write_text("bye")
    enrolled("add", str(src))
    process = enrolled.start("run")
    try:
        first = wait_for(lambda: snapshots(), timeout=60, what="the start-up snapshot")[0]
        (src / "old" / "gone.txt").unlink()
        (src / "new" / "sub").mkdir(parents=True)
        (src / "new" / "sub" / "hello.txt").write_text("hello")
        wait_for(lambda: snapshots()[-1].files == 1 and snapshots()[-1].dirs == first.dirs + 2, timeout=30,
                 what="a snapshot with the new folder and without the deleted file")
    finally:
        assert stop(process) == 0
    assert [e["name"] for e in enrolled.json("ls", "latest", str(src / "new" / "sub"))] == ["hello.txt"]
    assert enrolled.json("ls", "latest", str(src / "old")) == []


def test_sigterm_in_the_middle_of_a_backup_finishes_the_pack_and_commits_no_snapshot(enrolled, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for n in range(6):
        (src / f"part-{n}.bin").write_bytes(os.urandom(8 * MiB))
    enrolled("add", str(src))
    enrolled.set(pack_size=4 * MiB, limit_upload_kib=8 * 1024)
    process = enrolled.start("run")
    try:
        wait_for(lambda: indexed_packs() >= 1, timeout=60, what="a first pack")
    finally:
        assert stop(process, timeout=60) == 0, enrolled.log.read_text()
    assert snapshots() == []
    assert enrolled.json("status")["packs_pending"] == 0
    uploaded_before = indexed_packs()
    result = enrolled.json("backup")
    assert result["files"] == 6
    assert result["added_bytes"] < 48 * MiB - (uploaded_before - 1) * 4 * MiB  # finished packs were not re-sent
    assert "ok:" in enrolled("verify", "--read-data-subset", "50").stdout


def test_a_killed_agent_resends_at_most_a_checkpoint_and_never_commits_a_broken_snapshot(enrolled, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for n in range(8):
        (src / f"file-{n}.bin").write_bytes(os.urandom(4 * MiB))
    enrolled("add", str(src))
    enrolled.set(pack_size=4 * MiB, checkpoint_packs=2, limit_upload_kib=8 * 1024)
    process = enrolled.start("backup")
    wait_for(lambda: checkpointed_files(enrolled.home) >= 2, timeout=60, what="a checkpoint")
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert snapshots() == []
    enrolled.set(limit_upload_kib=0)
    result = enrolled.json("backup")
    assert result["files"] == 8
    assert result["files_read"] <= 6  # the checkpointed files were not read again
    assert "ok:" in enrolled("verify", "--read-data-subset", "100").stdout


class Outage:
    """A TCP forwarder between the agent and the portal that can be cut and restored."""

    def __init__(self, target_port: int):
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = threading.Event()
        self.closed = False
        self.conns: list[socket.socket] = []
        self.listener.listen(50)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up.is_set():
                client.close()
                continue
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            self.conns += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a, b):
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self):
        self.up.clear()
        for s in self.conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.conns.clear()

    def close(self):
        self.closed = True
        self.cut()
        self.listener.close()


def test_an_unreachable_portal_is_retried_and_the_backup_happens_when_it_returns(portal, owner, make_agent,
                                                                              tmp_path):
    from urllib.parse import urlparse

    from .conftest import enrollment_token

    outage = Outage(urlparse(portal.url).port)
    outage.up.set()
    try:
        agent = make_agent()
        agent("enroll", "--server", f"http://127.0.0.1:{outage.port}", "--token", enrollment_token(owner))
        src = tmp_path / "src"
        src.mkdir()
        (src / "a.txt").write_text("a")
        agent("add", str(src))
        agent.set(retries=2)
        outage.cut()
        done = agent("backup", expect=4)
        assert "cannot reach the portal" in done.stderr
        process = agent.start("run")
        try:
            time.sleep(1.5)  # the daemon meets the outage (and must not crash or spin)
            (src / "b.txt").write_text("b")
            assert process.poll() is None
            assert snapshots() == []
            outage.up.set()
            wait_for(lambda: snapshots() and snapshots()[-1].files == 2, timeout=60,
                     what="the backup after the portal came back")
        finally:
            assert stop(process) == 0
    finally:
        outage.close()


def test_a_folder_added_while_run_runs_is_backed_up(enrolled, tmp_path):
    src = tmp_path / "later"
    src.mkdir()
    (src / "x.txt").write_text("x")
    process = enrolled.start("run")
    try:
        time.sleep(1)  # the daemon is up with nothing to do
        enrolled("add", str(src))
        wait_for(lambda: snapshots() and snapshots()[-1].files == 1, timeout=30, what="the new folder's snapshot")
    finally:
        assert stop(process) == 0
