"""Upload cost by folder depth: SQL queries of an upload's start and complete
(counted in-process without BEGIN / COMMIT, the token lookup included; must
not grow with depth; targets <= 8 and <= 15) and the
median latency of `complete` over HTTP for a small file five folders deep
(target <= 15 ms), with a trivial view's median in the same gunicorn as the
floor of one request.

Local store, PostgreSQL and Redis (``BENCH_REDIS_URL``, default db 13) as in
production, gunicorn as the bench harness starts it, one keep-alive
connection, one upload at a time (start, PUT the one part, complete).
``BENCH_SHOW_SQL=1`` prints the queries of one complete.

Run: .venv/bin/python bench/upload_depth.py [--runs 5] [--size 1K] [--requests 40]
"""

from __future__ import annotations

import os
import time
from urllib.parse import urlparse

import requests

from harness import arguments, log, median, portal, stop_on_sigterm, table, verdict

START_QUERIES, COMPLETE_QUERIES, COMPLETE_MS = 8, 15, 15.0
DEPTH = 5
COUNT_DEPTHS = (1, 5, 10, 20)

_COUNT = """
import json
from contextlib import contextmanager
from django.db import connection
from django.test import Client
from urllib.parse import urlparse

client = Client(HTTP_HOST="127.0.0.1", headers={{"Authorization": "Bearer {token}"}})


@contextmanager
def statements():  # the SQL statements sent while inside, without BEGIN / COMMIT
    sent = []

    def wrapper(execute, sql, params, many, context):
        if sql not in ("BEGIN", "COMMIT"):
            sent.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield sent


result = {{}}
for depth in {depths!r}:
    folder = "/" + "/".join(f"q{{level}}" for level in range(depth))
    client.post("/api/v1/spaces/{space_id}/folders", {{"path": folder}}, content_type="application/json")
    for attempt in range(2):  # the first warms caches and imports
        body = {{"space": {space_id}, "path": f"{{folder}}/f{{attempt}}.bin", "size": 5}}
        with statements() as start:
            started = client.post("/api/v1/uploads", body, content_type="application/json").json()
        url = urlparse(started["parts"][0]["url"])
        client.generic("PUT", f"{{url.path}}?{{url.query}}", b"hello", content_type="application/octet-stream")
        with statements() as complete:
            done = client.post(f"/api/v1/uploads/{{started['id']}}/complete")
        assert done.status_code == 201, done.content
    result[depth] = [len(start), len(complete)]
    if depth == 5:
        result["sql"] = [sql[:140] for sql in complete]
print(json.dumps(result))
"""


def _one_upload(session: requests.Session, base: str, space_id: int, path: str, data: bytes) -> dict:
    t0 = time.perf_counter()
    started = session.post(f"{base}/api/v1/uploads", json={"space": space_id, "path": path, "size": len(data)},
                           timeout=60)
    t1 = time.perf_counter()
    if started.status_code != 201:
        raise RuntimeError(f"start: {started.status_code} {started.text[:300]}")
    started = started.json()
    part = urlparse(started["parts"][0]["url"])
    sent = requests.put(f"{base}{part.path}?{part.query}", data=data, timeout=60)
    if not sent.ok:
        raise RuntimeError(f"part: {sent.status_code} {sent.text[:300]}")
    t2 = time.perf_counter()
    done = session.post(f"{base}/api/v1/uploads/{started['id']}/complete", timeout=60)
    t3 = time.perf_counter()
    if done.status_code != 201:
        raise RuntimeError(f"complete: {done.status_code} {done.text[:300]}")
    return {"start": (t1 - t0) * 1000, "complete": (t3 - t2) * 1000}


def _trivial(session: requests.Session, base: str, count: int) -> list[float]:
    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        response = session.get(f"{base}/bench/trivial", timeout=30)
        times.append((time.perf_counter() - t0) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"trivial view: {response.status_code}")
    return times


def main() -> None:
    def extra(parser):
        parser.add_argument("--requests", type=int, default=40, help="uploads per run (default 40)")

    args = arguments(__doc__.split("\n\n")[0], size_help="file size", size_default="1K", runs_default=5,
                     extra=extra)
    stop_on_sigterm()
    # As in production: Redis for Celery's broker and the cache (the embedded SQLite broker is for one laptop).
    env = {"PORTAL_REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13"), **args.portal_env}
    with portal(storage="local", extra_env=env, app="trivial_wsgi") as server:
        counts = server.shell(_COUNT.format(token=server.token, space_id=server.space_id, depths=COUNT_DEPTHS))
        if os.environ.get("BENCH_SHOW_SQL"):
            log("complete at depth 5:\n  " + "\n  ".join(counts["sql"]))
        counts.pop("sql", None)
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {server.token}"
        folder = "/" + "/".join(f"level{level}" for level in range(DEPTH))
        response = session.post(f"{server.url}/api/v1/spaces/{server.space_id}/folders", json={"path": folder}, timeout=60)
        if response.status_code not in (200, 201):
            raise RuntimeError(f"folder: {response.status_code} {response.text[:300]}")
        data = os.urandom(args.size)
        for i in range(5):  # warm both sides
            _one_upload(session, server.url, server.space_id, f"{folder}/warm-{i}.bin", data)
        _trivial(session, server.url, 20)
        complete_runs, start_runs, trivial_runs = [], [], []
        for run in range(1, args.runs + 1):
            phases = [_one_upload(session, server.url, server.space_id, f"{folder}/run{run}-{i}.bin", data)
                      for i in range(args.requests)]
            complete_runs.append(median([p["complete"] for p in phases]))
            start_runs.append(median([p["start"] for p in phases]))
            trivial_runs.append(median(_trivial(session, server.url, args.requests)))
            log(f"run {run}: complete p50 {complete_runs[-1]:.1f} ms, start p50 {start_runs[-1]:.1f} ms, "
                f"trivial p50 {trivial_runs[-1]:.2f} ms")
    rows = [[f"queries at depth {depth}: start / complete", f"{start} / {complete}",
             f"<= {START_QUERIES} / <= {COMPLETE_QUERIES}",
             verdict(start <= START_QUERIES and complete <= COMPLETE_QUERIES)]
            for depth, (start, complete) in sorted(counts.items(), key=lambda item: int(item[0]))]
    constant = len({tuple(value) for value in counts.values()}) == 1
    rows.append(["queries constant across depths", "yes" if constant else "no", "yes", verdict(constant)])
    complete_ms = median(complete_runs)
    rows.append([f"complete p50, {DEPTH} folders deep (ms)", f"{complete_ms:.1f}", f"<= {COMPLETE_MS:.0f}",
                 verdict(complete_ms <= COMPLETE_MS)])
    rows.append([f"start p50, {DEPTH} folders deep (ms)", f"{median(start_runs):.1f}", "(info)", ""])
    rows.append(["trivial view p50 (ms), same gunicorn", f"{median(trivial_runs):.2f}", "(floor)", ""])
    print(table(["measure", "coffer", "target", ""], rows,
                title=f"Upload cost by depth: medians of {args.runs} runs x {args.requests} uploads"))


if __name__ == "__main__":
    main()
