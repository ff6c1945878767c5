"""Issue 19, a portal host dies under its clients. portal1 is killed in the middle of a 1 GiB upload
through the REST API: the client asks which parts arrived and completes the same session through
portal2. The portal taking an rclone WebDAV PUT of 200 MiB is killed mid-body: rclone sends it again
and no half-written version is ever listed. Each test prints what its client saw (pytest -s)."""

from __future__ import annotations

import hashlib
import os
import random
import re
import shutil
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.cluster.client import (
    Journal,
    call,
    lb_log_size,
    new_space,
    routed_since,
    sql,
)
from tests.cluster.conftest import Cluster

# The first test's setup brings the cluster up: minutes on a busy shared machine, beside a 1 GiB upload.
pytestmark = [pytest.mark.cluster, pytest.mark.timeout(600)]

MIB = 1024**2
BLOCK = random.Random(19).randbytes(16 * MIB)
API_SIZE = 1024 * MIB
DAV_SIZE = 200 * MIB
PORTALS = ("portal1", "portal2")


def chunk(number: int, length: int) -> bytes:
    """The ``number``-th chunk of a test file: BLOCK turned by a step of its own, so chunks differ and a
    mix-up of their order changes the file's digest. Made again when needed, never kept."""
    turn = number * 1_048_583 % len(BLOCK)
    return (BLOCK[turn:] + BLOCK[:turn])[:length]


def streamed_sha256(answer: requests.Response) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    for piece in answer.iter_content(MIB):
        digest.update(piece)
        size += len(piece)
    return digest.hexdigest(), size


def served(cluster: Cluster, offset: int, count: int) -> list:
    """The first ``count`` requests HAProxy logged after ``offset`` (it logs a request once answered)."""
    deadline = time.monotonic() + 10
    while len(routed := routed_since(cluster, offset)) < count:
        assert time.monotonic() < deadline, routed
        time.sleep(0.05)  # polling the balancer's log until the line is written
    return routed[:count]


def next_request_to(cluster: Cluster, api: requests.Session, portal: str) -> None:
    """Round robin over two portals: once both answered, ``portal`` first, the next request goes to ``portal``
    (a portal revived by the previous test is back in rotation after HAProxy's two good health checks)."""
    deadline, last_two = time.monotonic() + 20, []
    while last_two != [portal, next(p for p in PORTALS if p != portal)]:
        assert time.monotonic() < deadline, f"HAProxy did not alternate between both portals: {last_two}"
        offset = lb_log_size(cluster)
        assert api.get(f"{cluster.lb}/api/v1/spaces/", timeout=30).status_code == 200
        last_two = [*last_two, served(cluster, offset, 1)[0].server][-2:]
        time.sleep(0.1)  # a portal coming back is sent requests once its health checks pass


def worker_sha256(api: requests.Session, cluster: Cluster, node_id: int, journal: Journal) -> str:
    """The file's SHA-256 as a worker hashed it from the store (the version is hashed after it commits)."""
    deadline = time.monotonic() + 120
    while (sha := call(api, "GET", f"{cluster.lb}/api/v1/files/{node_id}", journal).json()["sha256"]) is None:
        assert time.monotonic() < deadline, "no worker hashed the new version within 120 s"
        time.sleep(0.5)  # polling until the hashing task has run
    return sha


def put_parts(parts: list[dict], digest) -> None:
    """PUT each part's bytes to its URL, three at a time (the browser's uploader sends six); ``digest``
    takes them in order."""
    def put(part: dict) -> bytes:
        data = chunk(part["number"], part["size"])
        answer = requests.put(part["url"], data=data, timeout=120)
        assert answer.status_code == 200, answer.text[:300]
        return data

    with ThreadPoolExecutor(3) as pool:
        for data in pool.map(put, parts):
            digest.update(data)


@contextmanager
def revived(cluster: Cluster, host: str):
    """Brings ``host`` back while the body checks what the clients got (a revive takes 10-30 s on a busy
    machine); the revive has succeeded when the body ends."""
    with ThreadPoolExecutor(1) as pool:
        reviving = pool.submit(cluster.revive, host)
        yield
        reviving.result()


def start_on_portal1(cluster: Cluster, api: requests.Session, space_id: int, journal: Journal) -> dict:
    next_request_to(cluster, api, "portal1")
    offset = lb_log_size(cluster)
    started = api.post(f"{cluster.lb}/api/v1/uploads", json={"space": space_id, "path": "big.bin", "size": API_SIZE},
                       timeout=30)
    assert started.status_code == 201, started.text
    assert served(cluster, offset, 1)[0].server == "portal1"
    session = started.json()
    journal.note(f"session started on portal1: {session['part_count']} parts of {session['part_size'] // MIB} MiB")
    return session


def resume(cluster: Cluster, api: requests.Session, upload_id: str, journal: Journal) -> dict:
    """What a client does after losing its portal: ask which parts arrived, for fresh URLs for the others."""
    asked = journal.now()
    state = call(api, "GET", f"{cluster.lb}/api/v1/uploads/{upload_id}", journal)
    assert state.status_code == 200, state.text
    state = state.json()
    journal.note(f"GET /uploads/{{id}}: 200 in {journal.now() - asked:.2f} s, {len(state['received'])} parts "
                 f"received, {len(state['parts'])} fresh URLs for the missing ones")
    return state


def test_a_1_gib_upload_cut_by_portal1_dying_resumes_its_session_through_portal2(cluster, api):
    journal = Journal("REST API upload of 1 GiB; portal1 killed mid-upload")
    try:
        space_id = new_space(api, cluster, "Portal faults")
        session = start_on_portal1(cluster, api, space_id, journal)
        upload_id, count = session["id"], session["part_count"]
        digest, first = hashlib.sha256(), count * 3 // 8
        put_parts(session["parts"][:first - 3], digest)
        with ThreadPoolExecutor(1) as pool:  # the store takes parts whether or not a portal is alive
            in_flight = pool.submit(put_parts, session["parts"][first - 3:first], digest)
            cluster.kill("portal1")
            offset = lb_log_size(cluster)
            journal.note(f"portal1 killed (SIGKILL of every process on the host); parts {first - 2}-{first} "
                         f"{'still' if not in_flight.done() else 'no longer'} on their way to the store")
            in_flight.result()

        state = resume(cluster, api, upload_id, journal)
        assert (state["id"], state["state"], state["received"]) == (upload_id, "open", list(range(1, first + 1)))
        assert [p["number"] for p in state["parts"]] == list(range(first + 1, count + 1))
        put_parts(state["parts"], digest)
        done = call(api, "POST", f"{cluster.lb}/api/v1/uploads/{upload_id}/complete", journal, json={})
        assert done.status_code == 201, done.text
        node = done.json()
        assert (node["size"], node["version"]) == (API_SIZE, 1)
        journal.note(f"parts {first + 1}-{count} stored and completed: version 1 of {API_SIZE // MIB} MiB; "
                     f"the upload took {journal.now():.1f} s in all")
        routed = served(cluster, offset, 2)
        journal.note("after the kill HAProxy sent: " + "; ".join(
            f"{r.request.split(' ')[0]} {r.status} to {r.server} (retries {r.retries})" for r in routed))
        assert {r.server for r in routed} == {"portal2"}, routed

        with revived(cluster, "portal1"):
            check_download(api, cluster, node["id"], digest.hexdigest(), API_SIZE, journal)
            sessions = sql(cluster, "SELECT id::text, state FROM files_uploadsession WHERE space_id = %s",
                           space_id)
            assert sessions == [(upload_id, "completed")]  # resumed, never started again
            journal.note("one upload session in the space, completed")
    finally:
        journal.print()


def check_download(api: requests.Session, cluster: Cluster, node_id: int, sha256: str, size: int,
                   journal: Journal) -> None:
    """The file has one version, of ``size`` bytes, and its download (from the store) hashes to ``sha256``."""
    versions = call(api, "GET", f"{cluster.lb}/api/v1/files/{node_id}/versions", journal).json()
    assert [(v["number"], v["size"]) for v in versions["results"]] == [(1, size)]
    began = journal.now()
    with api.get(f"{cluster.lb}/api/v1/files/{node_id}/content", stream=True, timeout=60) as answer:
        assert answer.status_code == 200, answer.text[:300]
        assert answer.history and answer.history[0].status_code == 302  # from the store, not the portal
        assert streamed_sha256(answer) == (sha256, size)
    journal.note(f"one version; downloaded and SHA-256 checked in {journal.now() - began:.1f} s: byte-identical")


def rclone_env(cluster: Cluster, slug: str, token: str, folder: Path) -> dict:
    obscured = subprocess.run(["rclone", "obscure", token], check=True, capture_output=True, text=True).stdout.strip()
    return {**os.environ, "RCLONE_CONFIG": str(folder / "rclone.conf"), "RCLONE_CONFIG_COFFER_TYPE": "webdav",
            "RCLONE_CONFIG_COFFER_URL": f"{cluster.lb}/dav/{slug}/", "RCLONE_CONFIG_COFFER_VENDOR": "other",
            "RCLONE_CONFIG_COFFER_USER": "operator", "RCLONE_CONFIG_COFFER_PASS": obscured}


def body_received(cluster: Cluster, portal: str) -> int:
    """The most bytes one of ``portal``'s client connections (HAProxy's) has received."""
    sockets = cluster.in_host(portal, "ss", "-Hti", "state", "established", "( sport = :8000 )")
    return max(map(int, re.findall(r"bytes_received:(\d+)", sockets.stdout)), default=0)


class Watcher(threading.Thread):
    """Looks the file up over the REST API ten times a second while rclone writes it: every state of it a
    client could see, each noted in the journal when first seen."""

    def __init__(self, cluster: Cluster, token: str, space_id: int, journal: Journal):
        super().__init__(daemon=True)
        self.url, self.journal = f"{cluster.lb}/api/v1/spaces/{space_id}/tree/big.bin", journal
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.stop, self.seen, self.polls = threading.Event(), set(), 0

    def run(self) -> None:
        while not self.stop.wait(0.1):
            try:
                answer = self.session.get(self.url, timeout=30)
            except requests.ConnectionError as exc:
                self.journal.note(f"listing: connection error {type(exc).__name__}")
                continue
            self.polls += 1
            if answer.status_code == 200:
                body = answer.json()
                state = (body["version"], body["size"], body["sha256"])
                if state not in self.seen:
                    self.journal.note(f"listing shows version {state[0]}, {state[1]} bytes, sha256 {state[2]}")
                self.seen.add(state)
            elif answer.status_code != 404:
                self.journal.note(f"listing: {answer.status_code} {answer.text[:80]!r}")


def write_source(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "wb") as out:
        for number in range(size // len(BLOCK) + 1):
            data = chunk(number, min(len(BLOCK), size - number * len(BLOCK)))
            out.write(data)
            digest.update(data)
    return digest.hexdigest()


def kill_the_portal_taking_it(cluster: Cluster, rclone: subprocess.Popen, log: Path, journal: Journal) -> str:
    """Kills the portal a quarter of the PUT's body has reached (HAProxy chose it); its name."""
    deadline = time.monotonic() + 60
    while True:
        assert rclone.poll() is None, f"rclone ended before a portal was killed: {log.read_text()}"
        assert time.monotonic() < deadline, "no portal received a quarter of the PUT within 60 s"
        received = {portal: body_received(cluster, portal) for portal in PORTALS}
        victim = next((portal for portal, n in received.items() if n >= DAV_SIZE // 4), None)
        if victim:
            break
        time.sleep(0.05)  # polling the portals' sockets until the body is flowing
    cluster.kill(victim)
    journal.note(f"{victim} killed with {received[victim] // MIB} of {DAV_SIZE // MIB} MiB of the PUT received")
    return victim


@dataclass
class Cut:
    """An rclone copy whose PUT lost its portal: which, when (epoch seconds), the balancer's log offset
    before it, what rclone logged about it and every state of the file the listing showed meanwhile."""

    victim: str = ""
    killed_at: float = 0.0
    offset: int = 0
    said: list[str] = field(default_factory=list)
    seen: set = field(default_factory=set)


def rclone_cut_off(cluster: Cluster, space: dict, token: str, folder: Path, journal: Journal) -> Cut:
    """rclone copies folder/big.bin in; the portal taking its PUT is killed mid-body."""
    cut, log = Cut(offset=lb_log_size(cluster)), folder / "rclone.log"
    watcher = Watcher(cluster, token, space["id"], journal)
    watcher.start()
    # --bwlimit: an attempt lasts at least 3 s, so the kill lands mid-body however fast the machine is.
    rclone = subprocess.Popen(
        [shutil.which("rclone"), "copyto", str(folder / "big.bin"), "coffer:big.bin", "--retries", "3",
         "--low-level-retries", "10", "--bwlimit", "64M", "--log-level", "DEBUG", "--stats", "0",
         "--log-file", str(log)], env=rclone_env(cluster, space["slug"], token, folder), stdin=subprocess.DEVNULL)
    journal.note("rclone copyto started")
    try:
        cut.victim = kill_the_portal_taking_it(cluster, rclone, log, journal)
        cut.killed_at, killed = time.time(), time.monotonic()
        assert rclone.wait(timeout=150) == 0, log.read_text()
        journal.note(f"rclone exited 0, {time.monotonic() - killed:.1f} s after the kill")
        while not watcher.seen:  # it looks until it has seen the file, as rclone's check did
            assert time.monotonic() < killed + 160, "the file was never listed"
            time.sleep(0.1)
    finally:
        if rclone.poll() is None:
            rclone.kill()
        watcher.stop.set()
        watcher.join()
        cut.said = [line for line in log.read_text().splitlines() if re.search(r"ERROR|retry|Attempt|Copied", line)]
        journal.lines += [f"         rclone: {line.split(' ', 2)[-1][:200]}" for line in cut.said]
    cut.seen = watcher.seen
    return cut


def test_a_webdav_put_cut_by_its_portal_dying_is_retried_and_no_half_version_is_ever_listed(
        cluster, api, operator_token, tmp_path):
    assert shutil.which("rclone"), "rclone is not installed (apt-get install rclone)"
    journal = Journal("rclone WebDAV PUT of 200 MiB; the portal taking it killed mid-body")
    space = api.get(f"{cluster.lb}/api/v1/spaces/{new_space(api, cluster, 'WebDAV faults')}", timeout=30).json()
    expected = write_source(tmp_path / "big.bin", DAV_SIZE)
    try:
        cut = rclone_cut_off(cluster, space, operator_token, tmp_path, journal)
        assert re.search(r"low level retry 1/10|Attempt 1/3 failed", "\n".join(cut.said)), cut.said  # sent again
        dav = [r for r in routed_since(cluster, cut.offset) if "/dav/" in r.request]
        journal.note("HAProxy's log of the WebDAV requests, seconds from the kill: " + "; ".join(
            f"{r.at - cut.killed_at:+.1f} {r.request.split(' ')[0]} {r.status} from {r.server} (retries {r.retries})"
            for r in dav))
        survivor = next(p for p in PORTALS if p != cut.victim)
        puts = [(r.server, r.status == 201) for r in dav if r.request.startswith("PUT ")]
        assert puts == [(cut.victim, False), (survivor, True)], dav  # the cut PUT, then its retry on the other
        with revived(cluster, cut.victim):
            node = call(api, "GET", f"{cluster.lb}/api/v1/spaces/{space['id']}/tree/big.bin", journal).json()
            assert (node["size"], node["version"]) == (DAV_SIZE, 1)
            assert worker_sha256(api, cluster, node["id"], journal) == expected
            journal.note("a worker hashed the version: the SHA-256 sent")
            # Every state listed while rclone wrote: the whole version or nothing (its hash may be pending).
            assert cut.seen <= {(1, DAV_SIZE, None), (1, DAV_SIZE, expected)}, cut.seen
            check_download(api, cluster, node["id"], expected, DAV_SIZE, journal)
    finally:
        (tmp_path / "big.bin").unlink()  # pytest keeps the last runs' folders
        journal.print()
