"""Restarting PostgreSQL and Redis under load, through the cluster's balancer: an API client asks and
uploads all along, a backup agent runs `run` on a folder that changes meanwhile. While a service is down the
portals answer 503 `unavailable` with Retry-After, never 500 (nor a traceback in their logs); they recover by
themselves; every upload that answered 201 is there, hashed and scanned (its tasks were queued in Redis when
Redis was killed: the broker's append-only file kept them), with its audit event in a chain that verifies;
and the agent's last snapshot restores byte-identical. What the clients saw is printed for the closing note."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
import requests

from tests.agent.conftest import AgentProcess, describe, stop, wait_for
from tests.cluster.client import new_space, upload
from tests.cluster.conftest import Cluster

# The cluster's `up` (about 40 s, minutes on a loaded machine) counts against the first test's time.
pytestmark = [pytest.mark.cluster, pytest.mark.timeout(900)]

PROBE_EVERY = 0.25   # seconds between a client's requests
UPLOAD_EVERY = 4     # every 4th request is an upload
RECOVERY_DEADLINE = 60
TASKS_DEADLINE = 90


@dataclass
class Seen:
    at: float            # seconds since the test's start
    what: str            # "list" or "upload"
    status: int          # the last answer (0: no connection)
    code: str = ""       # the error's code in the API's shape
    retry_after: str = ""


@dataclass
class Prober:
    """An API client through the balancer, asking every PROBE_EVERY seconds and uploading every UPLOAD_EVERY
    asks; what it saw, and the uploads that answered 201 with their bytes."""
    cluster: Cluster
    token: str
    space_id: int
    began: float
    seen: list[Seen] = field(default_factory=list)
    uploaded: dict[int, bytes] = field(default_factory=dict)
    stopping: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {self.token}"
        n = 0
        while not self.stopping.is_set():
            n += 1
            if n % UPLOAD_EVERY:
                self.seen.append(self._answer("list", self._send(session, "GET", "/spaces/")))
            else:
                self.seen.append(self._upload(session, f"probe-{n}.bin"))
            self.stopping.wait(PROBE_EVERY)

    def _send(self, session, method: str, path: str, **kwargs) -> requests.Response | None:
        try:
            return session.request(method, f"{self.cluster.lb}/api/v1{path}", timeout=30, **kwargs)
        except requests.RequestException:
            return None

    def _answer(self, what: str, answer: requests.Response | None) -> Seen:
        now = time.monotonic() - self.began
        if answer is None:
            return Seen(now, what, 0)
        try:
            code = answer.json().get("code", "") if answer.status_code >= 400 else ""
        except ValueError:
            code = f"not JSON: {answer.text[:60]!r}"
        return Seen(now, what, answer.status_code, code, answer.headers.get("Retry-After", ""))

    def _upload(self, session, name: str) -> Seen:
        """Start, PUT the one part to the store, complete: the first answer that is not a success."""
        data = os.urandom(20_000)
        started = self._send(session, "POST", "/uploads", json={"space": self.space_id, "path": name, "size": len(data)})
        if started is None or started.status_code != 201:
            return self._answer("upload", started)
        part = started.json()["parts"][0]
        if requests.put(part["url"], data=data, timeout=30).status_code != 200:
            return Seen(time.monotonic() - self.began, "upload", -1, "the store refused the part")
        for _ in range(RECOVERY_DEADLINE):  # a patient client completes once the portal answers again
            done = self._send(session, "POST", f"/uploads/{started.json()['id']}/complete")
            if done is not None and done.status_code == 201:
                self.uploaded[done.json()["id"]] = data
                return self._answer("upload", done)
            if done is not None and done.status_code != 503:
                return self._answer("upload", done)
            self.seen.append(self._answer("complete", done))
            time.sleep(1)  # Retry-After says 30; this client is more eager
        return self._answer("upload", done)

    def since(self, at: float) -> list[Seen]:
        return [s for s in self.seen if s.at >= at]


def _log_sizes(cluster: Cluster) -> dict[str, int]:
    return {host: (cluster.state / "hosts" / host / "gunicorn.log").stat().st_size for host in ("portal1", "portal2")}


def _logged_since(cluster: Cluster, sizes: dict[str, int]) -> str:
    text = ""
    for host, size in sizes.items():
        with open(cluster.state / "hosts" / host / "gunicorn.log", "rb") as log:
            log.seek(size)
            text += log.read().decode(errors="replace")
    return text


def _outage(prober: Prober, began: float, ended: float) -> dict:
    """What the client saw from a kill to the first success after the revive."""
    seen = [s for s in prober.since(began) if s.at <= ended]
    refused = [s for s in seen if s.status not in (200, 201)]
    return {"answers": dict(Counter(f"{s.what} {s.status}" for s in seen)),
            "first refusal after kill (s)": round(refused[0].at - began, 2) if refused else None,
            "refusals": len(refused)}


def _recovered(prober: Prober, revived: float) -> float:
    """Seconds from the revive to the client's first success after it."""
    first = wait_for(lambda: next((s for s in prober.since(revived) if s.status in (200, 201)), None),
                     timeout=RECOVERY_DEADLINE, what="a success after the revive")
    return round(first.at - revived, 2)


def _hashed_and_scanned(api: requests.Session, cluster: Cluster, uploaded: dict[int, bytes]) -> bool:
    for node_id, data in uploaded.items():
        node = api.get(f"{cluster.lb}/api/v1/files/{node_id}", timeout=30).json()
        if node["sha256"] != hashlib.sha256(data).hexdigest() or (node["scan"] or {}).get("state") != "clean":
            return False
    return True


AUDIT = """
import json
from portal.audit.models import AuditEvent
from portal.audit.verify import chain_verify
report = chain_verify()
events = AuditEvent.objects.filter(action="file.uploaded", target_type="node", target_id__in=NODES)
print(json.dumps({"verified": report.ok and f"{report.events} events", "problems": [p.message for p in report.problems],
                  "uploaded events": sorted(int(e.target_id) for e in events if e.seq is not None)}))
"""


def _audit(cluster: Cluster, uploaded: dict[int, bytes]) -> dict | None:
    """The uploads' file.uploaded events once sealed, and audit_verify's verdict on the chain (None until
    it verifies); one manage.py run."""
    code = AUDIT.replace("NODES", repr([str(node) for node in uploaded]))
    answer = json.loads(cluster.manage("shell", "-c", code).splitlines()[-1])
    return answer if answer["verified"] and len(answer["uploaded events"]) == len(uploaded) else None


def _latest_snapshot_after(agent: AgentProcess, moment: datetime) -> dict | None:
    snapshots = agent.json("snapshots")
    if not snapshots:
        return None
    latest = max(snapshots, key=lambda s: s["started_at"])
    return latest if datetime.fromisoformat(latest["started_at"]) > moment else None


def _note(began: float, what: str) -> None:
    print(f"{time.monotonic() - began:7.1f} s  {what}", flush=True)


@pytest.fixture
def kept_logs(cluster, tmp_path):
    """Every host's logs, copied beside the test's files when it ends (the cluster's folder goes with it)."""
    yield
    for log in (cluster.state / "hosts").glob("*/*.log"):
        kept = tmp_path / "cluster-logs" / log.parent.name / log.name
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(log, kept)


def _revive(cluster: Cluster, *hosts: str) -> None:
    """Revive hosts at once (each waits for its own health)."""
    threads = [threading.Thread(target=cluster.revive, args=(host,)) for host in hosts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_restarting_the_database_and_redis_loses_nothing_and_answers_503_meanwhile(cluster, api, operator_token,
                                                                                  tmp_path, kept_logs):
    began = time.monotonic()
    space_id = new_space(api, cluster, "Backing services")
    src = tmp_path / "src"
    (src / "docs").mkdir(parents=True)
    for n in range(5):
        (src / "docs" / f"note-{n}.txt").write_text(f"note {n}\n" * 200)
    (src / "photo.raw").write_bytes(os.urandom(1_500_000))
    agent = AgentProcess(tmp_path / "agent", tmp_path)
    enrollment = cluster.manage("device_token", "operator").splitlines()[0]
    agent("enroll", "--server", cluster.lb, "--token", enrollment, "--name", "laptop")
    agent("add", str(src))
    running = agent.start("run")
    prober = Prober(cluster, operator_token, space_id, began)
    probing = threading.Thread(target=prober.run, daemon=True)
    logs = _log_sizes(cluster)
    report: dict = {}
    try:
        wait_for(lambda: agent.json("snapshots"), timeout=60, what="the agent's first snapshot")
        probing.start()
        _note(began, "first snapshot; probing")
        # Uploaded before the database goes: its tasks have run by the time it is killed.
        before = {upload(api, cluster, space_id, "before-db.bin", data := os.urandom(50_000)): data}
        wait_for(lambda: _hashed_and_scanned(api, cluster, before), timeout=TASKS_DEADLINE, every=0.5,
                 what="the first upload's hash and scan")

        # --- PostgreSQL: killed (every process of its host), the folder changes, revived.
        cluster.kill("db")
        killed = time.monotonic() - began
        _note(began, "db killed")
        (src / "docs" / "note-0.txt").write_text("changed while the database was down\n")
        (src / "during-db.txt").write_text("new while the database was down\n")
        wait_for(lambda: sum(s.status == 503 for s in prober.since(killed)) >= 4, timeout=30,
                 what="the client's requests while the database is down")
        cluster.revive("db")
        _note(began, "db revived")
        revived = time.monotonic() - began
        report["database"] = {**_outage(prober, killed, revived), "down for (s)": round(revived - killed, 2),
                              "first success after revive (s)": _recovered(prober, revived)}

        # --- Redis: the workers are stopped first, so the uploads' tasks wait in Redis when it is killed.
        cluster.kill("worker1")
        cluster.kill("worker2")
        _note(began, "workers killed")
        queued = {}
        for n in range(3):
            data = os.urandom(30_000 + n)
            queued[upload(api, cluster, space_id, f"queued-{n}.bin", data)] = data
        assert not any(_hashed_and_scanned(api, cluster, {node: data}) for node, data in queued.items())
        cluster.kill("redis")
        killed = time.monotonic() - began
        _note(began, "redis killed")
        (src / "docs" / "note-1.txt").write_text("changed while Redis was down\n")
        (src / "during-redis.bin").write_bytes(os.urandom(300_000))
        last_change = datetime.now(UTC)
        asked = len(prober.seen)
        wait_for(lambda: len(prober.seen) >= asked + 8, timeout=60, what="the client's requests while Redis is down")
        cluster.revive("redis")
        _note(began, "redis revived")
        revived = time.monotonic() - began
        report["redis"] = {**_outage(prober, killed, revived), "down for (s)": round(revived - killed, 2),
                           "first success after revive (s)": _recovered(prober, revived)}
        _revive(cluster, "worker1", "worker2")
        _note(began, "workers revived")
        workers_back = time.monotonic()
        wait_for(lambda: _hashed_and_scanned(api, cluster, queued), timeout=TASKS_DEADLINE, every=0.5,
                 what="the tasks queued before Redis was killed")
        report["tasks queued in Redis across its restart"] = {
            "uploads": len(queued), "hashed and scanned (s after workers revived)": round(time.monotonic() - workers_back, 2)}

        wait_for(lambda: len(prober.since(revived)) >= 8, timeout=30, what="a few requests after the recovery")
        prober.stopping.set()
        probing.join(timeout=RECOVERY_DEADLINE + 30)
        uploaded = {**before, **queued, **prober.uploaded}
        wait_for(lambda: _hashed_and_scanned(api, cluster, uploaded), timeout=TASKS_DEADLINE, every=0.5,
                 what="every upload that answered 201 hashed and scanned")
        _note(began, "every upload hashed and scanned")
        audit = wait_for(lambda: _audit(cluster, uploaded), timeout=TASKS_DEADLINE, every=2,
                         what="every upload's event sealed in a chain that verifies")
        assert audit["uploaded events"] == sorted(uploaded), audit
        _note(began, f"audit chain verified: {audit['verified']}")

        snapshot = wait_for(lambda: _latest_snapshot_after(agent, last_change), timeout=120, every=1,
                            what="a snapshot taken after the last change")
    finally:
        prober.stopping.set()
        stopped = stop(running)
    assert stopped == 0, agent.log.read_text()[-3000:]
    target = tmp_path / "restored"
    agent("restore", str(snapshot["id"]), str(src), "--target", str(target))
    assert describe(target / "src") == describe(src)

    answers = Counter(s.status for s in prober.seen)
    refusals = [s for s in prober.seen if s.status == 503]
    assert set(answers) <= {200, 201, 503}, answers
    assert all(s.code == "unavailable" and int(s.retry_after) > 0 for s in refusals), refusals[:5]
    written = _logged_since(cluster, logs)
    assert "Traceback" not in written and '" 500 ' not in written, written[-3000:]
    agent_log = agent.log.read_text(errors="replace")
    report["clients"] = {"api answers": dict(answers), "uploads answered 201": len(uploaded),
                         "portal log lines 'is not answering'": written.count("is not answering")}
    report["agent"] = {"snapshots": len(agent.json("snapshots")),
                       "requests retried": agent_log.count("; retrying in"),
                       "backups retried later": agent_log.count("backup failed"),
                       "restore of the last snapshot": "byte-identical (content, modes, mtimes)"}
    print("\n== restarting db and redis under load\n" + json.dumps(report, indent=2), flush=True)
