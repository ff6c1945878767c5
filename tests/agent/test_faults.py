"""Faults: kill -9 at random points, the portal or the object store gone
mid-backup, a file growing while it is read, a burst of 10,000 files under
``run``, a full disk on the restore target. The agent runs as a subprocess
against the live portal; every process, proxy and mount a test starts is
stopped by it."""

from __future__ import annotations

import dataclasses
import random
import signal
import subprocess
import threading
from pathlib import Path

import pytest

from .conftest import describe, enrollment_token, stop, wait_for
from .test_daemon import Outage, indexed_packs, snapshots

MiB = 1024 * 1024


def write_data(src: Path, seed: int, big: int = 6, small: int = 200) -> int:
    """Big random files plus small ones (some text); their total size."""
    rng = random.Random(seed)
    (src / "small").mkdir(parents=True)
    total = 0
    for n in range(big):
        data = rng.randbytes(4 * MiB)
        (src / f"big-{n}.bin").write_bytes(data)
        total += len(data)
    for n in range(small):
        data = rng.randbytes(rng.randint(10, 20_000)) if n % 2 else (b"line %d\n" % n) * rng.randint(1, 500)
        (src / "small" / f"s{n:03d}.dat").write_bytes(data)
        total += len(data)
    return total


def stored_pack_bytes() -> int:
    from django.db.models import Sum

    from portal.backups.models import Pack

    return Pack.objects.filter(indexed_at__isnull=False).aggregate(total=Sum("size"))["total"] or 0


def assert_restores(agent, src: Path, target: Path) -> None:
    agent("restore", "latest", str(src), "--target", str(target))
    assert describe(target / src.name) == describe(src)


# --- kill -9 ------------------------------------------------------------------------------
def test_kill_9_at_random_points_then_the_next_run_completes_restores_exactly_and_resends_little(enrolled, tmp_path):
    src = tmp_path / "src"
    total = write_data(src, seed=1)
    enrolled("add", str(src))
    enrolled.set(pack_size=2 * MiB, checkpoint_packs=2, limit_upload_kib=6 * 1024)
    rng = random.Random(20261127)
    killed = 0
    for _attempt in range(5):
        process = enrolled.start("backup")
        try:
            process.wait(timeout=rng.uniform(0.6, 2.5))  # the random kill point (returns early if it finished)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            killed += 1
        process.wait(timeout=30)
        assert process.returncode in (0, -signal.SIGKILL), enrolled.log.read_text()
    assert killed >= 3, "the kills should land while the backup runs"
    uploaded_by_killed_runs = stored_pack_bytes()

    enrolled.set(limit_upload_kib=0)
    result = enrolled.json("backup")
    assert result["files"] == 206 and result["skipped"] == 0
    # Packs the killed runs uploaded are reused: the last run sends only what they never finished.
    assert result["added_bytes"] <= total - uploaded_by_killed_runs + 4 * MiB
    assert stored_pack_bytes() <= total * 1.1 + 5 * 2 * MiB  # at most a pack in flight lost per kill
    assert_restores(enrolled, src, tmp_path / "restored")
    assert "ok:" in enrolled("verify", "--read-data-subset", "100").stdout


# --- the portal or the object store away mid-backup ---------------------------------------------
@pytest.fixture
def proxied_portal(transactional_db, live_server, settings, tmp_path, owner, make_agent):
    """The live portal (local store) behind a TCP proxy: the agent's API calls and pack
    PUTs both go through it. Yields (agent, outage)."""
    from urllib.parse import urlparse

    from tests.files.support_s3 import use_local

    outage = Outage(urlparse(live_server.url).port)
    outage.up.set()
    try:
        url = f"http://127.0.0.1:{outage.port}"
        use_local(settings, tmp_path / "objects", url)
        agent = make_agent()
        agent("enroll", "--server", url, "--token", enrollment_token(owner))
        yield agent, outage
    finally:
        outage.close()


@pytest.fixture
def proxied_store(transactional_db, live_server, settings, seaweed, owner, make_agent):
    """The live portal on SeaweedFS behind a TCP proxy (the presigned URLs and the
    portal's own S3 calls go through it). Yields (agent, outage)."""
    from urllib.parse import urlparse

    from tests.files.support_s3 import use_s3

    outage = Outage(urlparse(seaweed.endpoint_url).port)
    outage.up.set()
    try:
        settings.PUBLIC_URL = live_server.url
        use_s3(settings, dataclasses.replace(seaweed, endpoint_url=f"http://127.0.0.1:{outage.port}"))
        agent = make_agent()
        agent("enroll", "--server", live_server.url, "--token", enrollment_token(owner))
        yield agent, outage
    finally:
        outage.close()


def _outage_mid_backup(agent, outage, tmp_path) -> None:
    src = tmp_path / "src"
    write_data(src, seed=2, big=5, small=50)
    agent("add", str(src))
    agent.set(pack_size=2 * MiB, limit_upload_kib=4 * 1024)
    process = agent.start("backup")
    try:
        wait_for(lambda: indexed_packs() >= 1, timeout=60, what="a first pack")
        outage.cut()
        # down until one request has failed three times in a row (0.5 s + 1 s + 2 s of backoff)
        wait_for(lambda: "(3/6)" in agent.log.read_text(), timeout=60, what="the agent retrying")
        assert process.poll() is None
        outage.up.set()
        assert process.wait(timeout=120) == 0, agent.log.read_text()
    finally:
        if process.poll() is None:
            stop(process)
    assert len(snapshots()) == 1 and snapshots()[0].files == 55
    assert_restores(agent, src, tmp_path / "restored")


def test_the_portal_gone_for_a_while_mid_backup_is_retried_and_the_run_completes(proxied_portal, tmp_path):
    agent, outage = proxied_portal
    _outage_mid_backup(agent, outage, tmp_path)


def test_the_object_store_gone_for_a_while_mid_backup_is_retried_and_the_run_completes(proxied_store, tmp_path):
    agent, outage = proxied_store
    _outage_mid_backup(agent, outage, tmp_path)


# --- a file growing while it is read -------------------------------------------------------------
class _Packer:
    def __init__(self, keys):
        self.keys, self.blobs = keys, {}

    def add(self, cid, blob, raw, kind):
        from sync_agent import crypto

        self.blobs[cid] = crypto.unseal(self.keys, cid, blob)


@pytest.fixture
def pipeline(tmp_path, monkeypatch):
    """The backup's read pipeline on a throwaway state, with a packer that keeps plaintexts."""
    from sync_agent import crypto
    from sync_agent.backup import Pipeline
    from sync_agent.progress import Progress
    from sync_agent.state import State

    keys = crypto.Keys(bytes(32), bytes(range(32)))
    (tmp_path / "home").mkdir()
    state = State(tmp_path / "home")
    packer = _Packer(keys)
    pipe = Pipeline(keys, state, packer=packer, progress=Progress(enabled=False), stop=threading.Event())
    yield pipe, packer
    pipe.close()
    state.close()


def _growing(monkeypatch, path: Path, times: int):
    """Make the chunker append to ``path`` after its first chunk, on the first ``times`` reads."""
    import sync_agent.backup as backup

    real = backup.iter_chunks
    reads = []

    def iter_chunks(stream, size_hint=-1):
        reads.append(size_hint)
        for n, chunk in enumerate(real(stream, size_hint)):
            yield chunk
            if n == 0 and len(reads) <= times:
                with open(path, "ab") as out:
                    out.write(b"appended while read\n" * 1000)

    monkeypatch.setattr(backup, "iter_chunks", iter_chunks)
    return reads


def _entry(path: Path):
    from sync_agent.state import Entry

    st = path.stat()
    return Entry(path.name, "file", 0o644, st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)


def test_a_file_growing_while_it_is_read_is_read_again_and_kept_consistent(pipeline, tmp_path, monkeypatch):
    from sync_agent.state import unpack_ids

    pipe, packer = pipeline
    path = tmp_path / "growing.log"
    path.write_bytes(random.Random(3).randbytes(3 * MiB))
    reads = _growing(monkeypatch, path, times=1)
    result = pipe._read_file(str(tmp_path), _entry(path))
    assert len(reads) == 2  # read once, seen to change, read again
    final = path.read_bytes()
    assert result.entry is not None and result.entry.size == len(final)
    assert b"".join(packer.blobs[c] for c in unpack_ids(result.entry.chunks)) == final


def test_a_file_that_keeps_growing_is_reported_and_its_previous_version_kept(pipeline, tmp_path, monkeypatch):
    pipe, _ = pipeline
    path = tmp_path / "growing.log"
    path.write_bytes(random.Random(4).randbytes(3 * MiB))
    reads = _growing(monkeypatch, path, times=99)
    result = pipe._read_file(str(tmp_path), _entry(path))
    assert len(reads) == 3 and result.entry is None and not result.forget
    assert "kept changing while it was read" in result.problem


def test_a_file_appended_by_a_thread_during_a_backup_is_stored_consistently_or_reported(enrolled, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "other.txt").write_text("other")
    path = src / "growing.log"
    path.write_bytes(random.Random(5).randbytes(4 * MiB))
    enrolled("add", str(src))
    done = threading.Event()

    def append():
        line = 0
        while not done.is_set() and path.stat().st_size < 64 * MiB:
            with open(path, "ab") as out:
                out.write(b"log line %08d\n" % line * 64)
            line += 1
            done.wait(0.001)  # pacing: a steady writer, not a wait for anything

    writer = threading.Thread(target=append)
    writer.start()
    try:
        result = enrolled.json("backup")
    finally:
        done.set()
        writer.join()
    final = path.read_bytes()
    stored = {e["name"]: e for e in enrolled.json("ls", "latest", str(src))}
    if "growing.log" in stored:  # read consistently: a prefix of what the writer ended with
        target = tmp_path / "out"
        enrolled("restore", "latest", str(path), "--target", str(target))
        restored = (target / "growing.log").read_bytes()
        assert len(restored) == stored["growing.log"]["size"] >= 4 * MiB
        assert final.startswith(restored)
    else:  # or reported: skipped, with a warning naming the file
        assert result["skipped"] == 1
        assert any("growing.log" in w and "changing" in w for w in result["warnings"])
    assert "other.txt" in stored


# --- a burst of files under `run` ----------------------------------------------------------------
def test_10000_files_created_in_a_burst_while_run_watches_are_all_in_the_latest_snapshot(enrolled, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "first.txt").write_text("first")
    enrolled("add", str(src))
    process = enrolled.start("run")
    try:
        wait_for(lambda: snapshots(), timeout=60, what="the start-up snapshot")
        for d in range(10):
            folder = src / f"burst-{d}"
            folder.mkdir()
            for n in range(1000):
                (folder / f"file-{n:04d}.txt").write_bytes(b"%d/%d\n" % (d, n))
        wait_for(lambda: snapshots()[-1].files == 10_001, timeout=240, every=0.5,
                 what="a snapshot with all 10,000 files")
    finally:
        assert stop(process) == 0, enrolled.log.read_text()
    for d in range(10):
        names = [e["name"] for e in enrolled.json("ls", "latest", str(src / f"burst-{d}"))]
        assert names == [f"file-{n:04d}.txt" for n in range(1000)]


# --- a full disk on the restore target ------------------------------------------------------------
@pytest.fixture
def tiny_disk(tmp_path):
    """A 1 MiB tmpfs (needs root); unmounted at the end."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True,
                          text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_full_restore_target_is_a_clear_error_and_a_non_zero_exit(enrolled, tmp_path, tiny_disk):
    src = tmp_path / "src"
    src.mkdir()
    (src / "small.txt").write_text("fits")
    (src / "big.bin").write_bytes(random.Random(6).randbytes(3 * MiB))
    enrolled("add", str(src))
    enrolled.json("backup")
    done = enrolled("restore", "latest", str(src), "--target", str(tiny_disk), expect=9)  # RestoreFailed
    assert "No space left on device" in done.stderr and "big.bin" in done.stderr
    assert "Traceback" not in done.stderr
    assert "restore did not finish" in done.stderr
    assert sorted(p.name for p in (tiny_disk / "src").iterdir()) == ["small.txt"]  # no half-written leftovers
