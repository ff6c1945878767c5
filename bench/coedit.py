"""The co-editing server under load: update fan-out latency with 50 editors
in one document, and what 200 idle open documents cost in memory.

Each run makes fresh files in a throwaway portal database (PostgreSQL),
starts ``python -m portal.collab.server`` (uvicorn, one process, Redis bus on
``BENCH_REDIS_URL``, default db 13, as in production) on a free loopback
port, and talks to it with simulated editors in this process (pycrdt and
websockets: the y-websocket protocol a browser speaks, no browser). A room URL
is what the editor page hands out: ``member_participation`` + ``session_open``
+ ``ticket_issue``.

- edit: ``--clients`` 50 editors (50 users, editors of one space) join one
  Markdown file; each inserts ``--rate`` 10 updates/s at its end of the text
  for ``--seconds`` 20 s (start times spread over the first period). Every
  inserted text carries its sender, a sequence number and the sender's
  monotonic clock (``[c7 n42 t<ns>]``); a receiver finds these markers in the
  update message's bytes (a Yjs update holds inserted text verbatim) and
  records now minus t: the fan-out latency of that update to that client,
  exact per (update, receiver). Receivers do not apply others' updates to a
  local document (the server does; 50 local documents would cost this
  process more CPU than the server), so this process stays light. Updates
  sent in the first ``--warmup`` 2 s are not counted; every counted update
  must reach all other clients (polled with a deadline), one that does not is
  counted as lost (infinite latency). The echo to the sender (stored, then
  relayed) is shown beside. Server RSS (the process and its children,
  sampled every 250 ms) and the CPU of the server and of this process.
- idle: a fresh server, one warm-up document opened, edited and closed, the
  RSS taken; then ``--idle`` 200 files of ``--size`` 4 KiB opened by one
  client each (synced, then idle); the RSS increase is the highest RSS over
  the next ``--settle`` 5 s minus the RSS before.

Targets (issue 16): p95 fan-out <= 100 ms; 200 idle documents <= 200 MB.
``BENCH_COEDIT_PROFILE=DIR`` runs the edit phase's server under cProfile
(its event-loop thread) and writes DIR/edit-<run>.prof.

Run: .venv/bin/python bench/coedit.py [--runs 3] [--clients 50] [--rate 10] [--seconds 20] [--idle 200]
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import subprocess
import time
from pathlib import Path

import requests
import websockets
from pycrdt import Doc, Text, YMessageType, YSyncMessageType, create_sync_message, create_update_message, \
    handle_sync_message

from harness import (
    BIN, ROOT, START_DEADLINE, arguments, child_pids, database, free_port, log, manage, median, portal_env,
    rss_bytes, stop_on_sigterm, table, temp_dir, verdict,
)

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
P95_TARGET_MS = 100.0
IDLE_TARGET_MB = 200.0
MARK = re.compile(rb"\[c(\d+) n(\d+) t(\d+)\]")
SYNC_DEADLINE = 120
DRAIN_DEADLINE = 60
MB = 1_000_000


def extra_arguments(parser) -> None:
    parser.add_argument("--clients", type=int, default=50, help="editors in the one document (default 50)")
    parser.add_argument("--rate", type=float, default=10.0, help="updates per second per editor (default 10)")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long they edit (default 20)")
    parser.add_argument("--warmup", type=float, default=2.0, help="first seconds not counted (default 2)")
    parser.add_argument("--idle", type=int, default=200, help="idle open documents (default 200)")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds the idle RSS is watched (default 5)")
    parser.add_argument("--only", choices=("edit", "idle"), help="one phase only")


# --- the portal's side: users, files, tickets ---------------------------------------------

_SETUP = """
import json
from portal.accounts.services import user_create
from portal.spaces.services import member_add, space_create
owner = user_create(actor=None, username="owner", password={password!r})
space = space_create(actor=owner, name="Bench")
for i in range({clients}):
    user_create(actor=None, username=f"editor{{i:02d}}", password={password!r})
    member_add(actor=owner, space_id=space.pk, username=f"editor{{i:02d}}", role="editor")
print(json.dumps({{"space": space.pk}}))
"""

_TICKETS = """
import io, json
from django.contrib.auth import get_user_model
from portal.collab.access import member_participation
from portal.collab.services import session_open
from portal.collab.tickets import ticket_issue
from portal.core.access import Cap
from portal.files.selectors import locate_node
from portal.files.services.direct import file_put
User = get_user_model()
owner = User.objects.get(username="owner")
body = {body!r}.encode()
def made(path):
    return file_put(actor=owner, space_id={space}, path=path, fileobj=io.BytesIO(body), size=len(body)).node_id
def ticket(user, node_id):
    participation = member_participation(locate_node(user, node_id, Cap.FILE_READ), user)
    session = session_open(participation=participation)
    return ticket_issue(node_id=node_id, session_id=session.pk, user=user)
editors = list(User.objects.filter(username__startswith="editor").order_by("username"))
out = {{}}
if {edit}:
    node = made("/run{run}/shared.md")
    out["edit"] = [[node, ticket(user, node)] for user in editors]
if {idle}:
    warm = made("/run{run}/warm-up.md")
    out["warmup"] = [warm, ticket(owner, warm)]
    nodes = [made(f"/run{run}/idle/{{i:03d}}.md") for i in range({idle_count})]
    out["idle"] = [[node, ticket(owner, node)] for node in nodes]
print(json.dumps(out))
"""


def markdown(size: int) -> str:
    """A plausible Markdown document of about ``size`` bytes."""
    lines, total, n = ["# Meeting notes\n", "\n"], 0, 0
    while total < size:
        n += 1
        line = f"- item {n}: the quick brown fox jumps over the lazy dog, *twice*.\n"
        lines.append(line)
        total += len(line)
    return "".join(lines)[:size]


def shell(env: dict, code: str) -> dict:
    return json.loads(manage(env, "shell", "-c", code).strip().splitlines()[-1])


# --- the server process ----------------------------------------------------------------------

class Server:
    program = ["-m", "portal.collab.server"]  # what python runs (a profiling wrapper may stand in)

    def __init__(self, env: dict, log_path: Path, profile: Path | None = None):
        self.port = free_port()
        command = [str(BIN / "python")]
        if profile is not None:
            command += ["-m", "cProfile", "-o", str(profile)]
        command += [*self.program, "--bind", f"127.0.0.1:{self.port}"]
        self.log = open(log_path, "ab")
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        self.log_path = log_path
        # uvicorn re-raises SIGTERM after its graceful stop (no atexit); a SIGINT ends cProfile's run with its dump
        self.stop_signal = signal.SIGTERM if profile is None else signal.SIGINT
        deadline = time.monotonic() + START_DEADLINE
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the co-editing server exited with {self.process.returncode}:\n{self.tail()}")
            try:
                if requests.get(f"http://127.0.0.1:{self.port}/coedit/health", timeout=5).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the co-editing server did not answer within {START_DEADLINE} s")
            time.sleep(0.1)

    def url(self, node_id: int, ticket: str) -> str:
        return f"ws://127.0.0.1:{self.port}/coedit/ws/{node_id}?ticket={ticket}"

    def pids(self) -> list[int]:
        found, todo = [], [self.process.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(child_pids(pid))
        return found

    def rss(self) -> int:
        return sum(rss_bytes(pid) or 0 for pid in self.pids())

    def cpu_seconds(self) -> float:
        total = 0.0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/stat") as stat:
                    fields = stat.read().rpartition(")")[2].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            except OSError:
                pass
        return total

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(self.stop_signal)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


# --- simulated editors -------------------------------------------------------------------------

class Editor:
    """One y-websocket connection: syncs with pycrdt, then sends its own inserts and
    records when others' markers arrive (without applying others' updates)."""

    def __init__(self, index: int, url: str, record):
        self.index, self.url, self.record = index, url, record
        self.doc = Doc()
        self.text = self.doc.get("content", type=Text)
        self.synced = asyncio.Event()
        self.socket = None
        self.reader = None
        self.sent = 0

    async def connect(self) -> None:
        self.socket = await websockets.connect(self.url, max_size=None)
        self.reader = asyncio.create_task(self._read())
        await self.socket.send(create_sync_message(self.doc))

    async def _read(self) -> None:
        try:
            async for message in self.socket:
                if not isinstance(message, bytes) or len(message) < 2 or message[0] != YMessageType.SYNC:
                    continue
                if message[1] == YSyncMessageType.SYNC_UPDATE and self.synced.is_set():
                    now = time.monotonic_ns()
                    for sender, seq, sent in MARK.findall(message):
                        self.record(self.index, int(sender), int(seq), (now - int(sent)) / 1e6)
                    continue
                reply = handle_sync_message(message[1:], self.doc)
                if message[1] == YSyncMessageType.SYNC_STEP2:
                    self.synced.set()
                if reply is not None:
                    await self.socket.send(reply)
        except websockets.ConnectionClosed:
            pass

    async def edit(self, start: float, stop: float, rate: float) -> None:
        period = 1.0 / rate
        due = start + random.random() * period
        while due < stop:
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self.sent += 1
            before = self.doc.get_state()
            self.text.insert(len(self.text), f"[c{self.index} n{self.sent} t{time.monotonic_ns()}]\n")
            await self.socket.send(create_update_message(self.doc.get_update(before)))
            due += period

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()
        if self.reader is not None:
            await asyncio.gather(self.reader, return_exceptions=True)


async def joined(editors: list[Editor]) -> None:
    for start in range(0, len(editors), 20):  # as a morning's logins would: not all in one millisecond
        await asyncio.gather(*(e.connect() for e in editors[start:start + 20]))
    await asyncio.wait_for(asyncio.gather(*(e.synced.wait() for e in editors)), SYNC_DEADLINE)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


# --- the edit phase ----------------------------------------------------------------------------

async def edit_phase(server: Server, rooms: list, args) -> dict:
    window: dict = {}  # (sender, seq) -> set of receivers that got it, for updates counted
    fanout: list[float] = []
    echo: list[float] = []
    counted_from = {"seq": 0}

    by_second: dict[int, list[float]] = {}  # fan-out latencies by the second the update was sent in

    def record(receiver: int, sender: int, seq: int, ms: float) -> None:
        if seq <= counted_from["seq"]:
            return
        if receiver == sender:
            echo.append(ms)
            return
        window.setdefault((sender, seq), set()).add(receiver)
        fanout.append(ms)
        by_second.setdefault(int(seq / args.rate), []).append(ms)

    editors = [Editor(i, server.url(node, ticket), record) for i, (node, ticket) in enumerate(rooms)]
    await joined(editors)
    rss_samples: list[int] = []
    sampling = asyncio.create_task(_sample_rss(server, rss_samples))
    counted_from["seq"] = int(args.warmup * args.rate)  # each editor's first updates warm up
    cpu0, own0, t0 = server.cpu_seconds(), time.process_time(), time.monotonic()
    stop = t0 + args.seconds
    await asyncio.gather(*(e.edit(t0, stop, args.rate) for e in editors))
    counted = sum(max(0, e.sent - counted_from["seq"]) for e in editors)
    expected = counted * (len(editors) - 1)
    deadline = time.monotonic() + DRAIN_DEADLINE
    while len(fanout) < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    wall = time.monotonic() - t0
    cpu, own = server.cpu_seconds() - cpu0, time.process_time() - own0
    sampling.cancel()
    lost = expected - len(fanout)
    log("p95 ms by second of sending: " + " ".join(f"{percentile(v, 95):.0f}" for _, v in sorted(by_second.items())))
    await asyncio.gather(*(e.close() for e in editors))
    measured = fanout + [float("inf")] * lost
    return {"p50": percentile(measured, 50), "p95": percentile(measured, 95), "p99": percentile(measured, 99),
            "max": max(fanout) if fanout else float("nan"), "echo_p50": percentile(echo, 50),
            "echo_p95": percentile(echo, 95), "updates": counted, "deliveries": len(fanout), "lost": lost,
            "rate": sum(e.sent for e in editors) / args.seconds,
            "rss_peak": max(rss_samples, default=server.rss()) / MB, "rss_end": server.rss() / MB,
            "server_cpu": cpu / wall * 100, "bench_cpu": own / wall * 100}


async def _sample_rss(server: Server, samples: list[int]) -> None:
    while True:
        samples.append(server.rss())
        await asyncio.sleep(0.25)


# --- the idle phase ----------------------------------------------------------------------------

async def idle_phase(server: Server, warmup: list, rooms: list, args) -> dict:
    first = Editor(0, server.url(*warmup), lambda *a: None)
    await joined([first])
    await first.edit(time.monotonic(), time.monotonic() + 0.5, 10)
    await first.close()
    await asyncio.sleep(1.0)  # its updates stored and the room left behind (grace) before the baseline
    before = server.rss()
    editors = [Editor(i, server.url(node, ticket), lambda *a: None) for i, (node, ticket) in enumerate(rooms)]
    t0 = time.monotonic()
    await joined(editors)
    opened = time.monotonic() - t0
    samples: list[int] = []
    end = time.monotonic() + args.settle
    while time.monotonic() < end:
        samples.append(server.rss())
        await asyncio.sleep(0.25)
    after = max(samples)
    await asyncio.gather(*(e.close() for e in editors))
    return {"before": before / MB, "after": after / MB, "increase": (after - before) / MB,
            "per_doc_kb": (after - before) / len(rooms) / 1000, "open_s": opened}


# --- main ---------------------------------------------------------------------------------------

def one_run(run: int, env: dict, space: int, var_dir: Path, args) -> dict:
    made = shell(env, _TICKETS.format(body=markdown(args.size), space=space, run=run, edit=args.only != "idle",
                                      idle=args.only != "edit", idle_count=args.idle))
    result = {}
    if "idle" in made:
        server = Server(env, var_dir / f"server-idle-{run}.log")
        try:
            result["idle"] = asyncio.run(idle_phase(server, made["warmup"], made["idle"], args))
        finally:
            server.stop()
        log(f"run {run} idle: {result['idle']}")
    if "edit" in made:
        profiles = os.environ.get("BENCH_COEDIT_PROFILE")
        profile = Path(profiles).resolve() / f"edit-{run}.prof" if profiles else None
        server = Server(env, var_dir / f"server-edit-{run}.log", profile)
        try:
            result["edit"] = asyncio.run(edit_phase(server, made["edit"], args))
        finally:
            server.stop()
        log(f"run {run} edit: {result['edit']}")
    return result


def report(results: list[dict], args) -> None:
    def med(phase: str, key: str) -> float:
        return median([r[phase][key] for r in results])

    runs = len(results)
    if "edit" in results[0]:
        keys = ["p50", "p95", "p99", "max", "echo_p50", "echo_p95", "rss_peak", "rss_end", "server_cpu",
                "bench_cpu", "rate", "updates", "lost"]
        rows = [[f"run {i + 1}", *[r["edit"][k] for k in keys]] for i, r in enumerate(results)]
        rows.append(["median", *[med("edit", k) for k in keys]])
        print(table(["", "p50 ms", "p95 ms", "p99 ms", "max ms", "echo p50", "echo p95", "RSS peak MB",
                     "RSS end MB", "server CPU %", "bench CPU %", "updates/s", "counted", "lost"], rows,
                    title=f"\nedit: {args.clients} editors x {args.rate:g} updates/s for {args.seconds:g} s "
                          f"(first {args.warmup:g} s not counted); fan-out latency to each other editor"))
        p95 = med("edit", "p95")
        print(f"p95 fan-out {p95:.1f} ms (target <= {P95_TARGET_MS:.0f} ms): {verdict(p95 <= P95_TARGET_MS)}; "
              f"server RSS peak {med('edit', 'rss_peak'):.1f} MB (median of {runs})")
    if "idle" in results[0]:
        keys = ["before", "after", "increase", "per_doc_kb", "open_s"]
        rows = [[f"run {i + 1}", *[r["idle"][k] for k in keys]] for i, r in enumerate(results)]
        rows.append(["median", *[med("idle", k) for k in keys]])
        print(table(["", "RSS before MB", "RSS after MB", "increase MB", "per document kB", "opening s"], rows,
                    title=f"\nidle: {args.idle} documents of {args.size} bytes open, one idle editor each"))
        increase = med("idle", "increase")
        print(f"{args.idle} idle documents: +{increase:.1f} MB (target <= {IDLE_TARGET_MB:.0f} MB): "
              f"{verdict(increase <= IDLE_TARGET_MB)} (median of {runs})")
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")


def main() -> None:
    stop_on_sigterm()
    args = arguments(__doc__.splitlines()[0], size_help="bytes of each Markdown file", size_default="4K",
                     extra=extra_arguments)
    with database() as database_url, temp_dir("coffer-bench-coedit-") as var_dir:
        env = portal_env(var_dir=var_dir, database_url=database_url, port=free_port(), storage="local")
        env.update({"PORTAL_REDIS_URL": REDIS_URL, "PORTAL_LOG_LEVEL": "WARNING", **args.portal_env})
        t0 = time.monotonic()
        manage(env, "migrate", "--noinput")
        manage(env, "storage_init")
        space = shell(env, _SETUP.format(password="B3nch-" + os.urandom(8).hex(), clients=args.clients))["space"]
        log(f"database ready in {time.monotonic() - t0:.1f} s: {args.clients} editors and a space")
        results = [one_run(run, env, space, var_dir, args) for run in range(1, args.runs + 1)]
    report(results, args)


if __name__ == "__main__":
    main()
