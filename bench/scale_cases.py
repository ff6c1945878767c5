"""The cases ``scale.py`` times, through the real code paths in-process
(Django's test client: the REST API with bearer tokens, the admin as a
superuser), and the EXPLAIN check of every statement they sent."""

from __future__ import annotations

import json
import statistics
import time
from urllib.parse import urlencode

from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

PATH_TARGET_MS = 20
MOVE_TARGET_MS = 100
# Not plannable, or (EXPLAIN: the admin's estimated count) planned but never run.
SKIP_EXPLAIN = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "SET ", "SHOW ", "LOCK ", "SELECT PG_",
                "EXPLAIN")


def _client(token: str | None = None) -> Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return Client(HTTP_HOST="127.0.0.1", headers=headers)


def _first_byte(response) -> None:
    """Read the first chunk of a stream and close it now: a stream left to the garbage collector
    would close its server-side cursor in the middle of the next request's query."""
    if response.streaming:
        next(iter(response.streaming_content), b"")
        response.close()
    else:
        response.content  # noqa: B018 - the whole body is the answer


def _timed(label: str, calls, runs: int, expect, target: float | None, queries: list) -> dict:
    """``calls`` is a list of zero-argument callables returning a response, used in turn (a move and its
    way back); the first round warms caches and is not timed; its statements are captured."""
    counts = []
    for call in calls:  # one capture per request: each request resets the connection's query log
        with CaptureQueriesContext(connection) as captured:
            response = call()
            _first_byte(response)
        _check(label, response, expect)
        counts.append(len(captured.captured_queries))
        queries.extend((label, q["sql"]) for q in captured.captured_queries)
    times = []
    for i in range(runs):
        call = calls[i % len(calls)]
        t0 = time.perf_counter()
        response = call()
        _first_byte(response)
        times.append((time.perf_counter() - t0) * 1000)
        _check(label, response, expect)
    times.sort()
    return {"case": label, "queries": max(counts), "p50_ms": statistics.median(times),
            "p95_ms": times[min(len(times) - 1, int(len(times) * 0.95))], "target_ms": target}


def _check(label: str, response, expect) -> None:
    if response.status_code not in expect:
        body = b"" if response.streaming else response.content[:300]
        raise RuntimeError(f"{label}: HTTP {response.status_code} {body!r}")


def measure(ids: dict, *, tokens: dict, admin, runs: int, log, skip: tuple = ()) -> tuple[list[dict], list]:
    owner, reader = _client(tokens["owner"]), _client(tokens["reader"])
    staff = _client()
    staff.force_login(admin)
    space, api = ids["space"], "/api/v1"
    deep_folder = ids["deep_path"].rsplit("/", 1)[0]
    pages = -(-10_000 // 100)
    moves = [lambda: owner.post(f"{api}/files/{ids['archive']}/move", {"path": "/Moved"}, content_type="application/json"),
             lambda: owner.post(f"{api}/files/{ids['archive']}/move", {"path": "/Archive"},
                                content_type="application/json")]
    window = {"action": "file.downloaded", "created_from": "2025-01-01T00:10:00", "created_to": "2025-01-01T00:20:00"}
    plan = [
        ("path 20 folders deep (GET tree/Deep/L01/../L20)", [lambda: owner.get(f"{api}/spaces/{space}/tree/{deep_folder}")],
         (200,), PATH_TARGET_MS),
        ("file by path 21 deep (GET tree/.../bottom.txt)",
         [lambda: owner.get(f"{api}/spaces/{space}/tree/{ids['deep_path']}")], (200,), PATH_TARGET_MS),
        ("listing 10,000 entries, first page (100)", [lambda: owner.get(f"{api}/spaces/{space}/tree/Listing")], (200,),
         PATH_TARGET_MS),
        (f"listing 10,000 entries, last page ({pages})",
         [lambda: owner.get(f"{api}/spaces/{space}/tree/Listing?page={pages}")], (200,), PATH_TARGET_MS),
        (f"move a folder of {ids['archive_descendants']:,} descendants",
         moves, (200,), MOVE_TARGET_MS),
        ("permission: file under a group's internal share", [lambda: reader.get(f"{api}/files/{ids['deep_file']}")],
         (200,), None),
        ("permission: file in a space granted to a group", [lambda: reader.get(f"{api}/files/{ids['other_file']}")],
         (200,), None),
        ("permission: refused (no grant)", [lambda: reader.get(f"{api}/files/{ids['projects'] + 5}")], (403, 404), None),
        ("search 'report 00042' (owner)", [lambda: owner.get(f"{api}/search?" + urlencode({"q": "report 00042"}))],
         (200,), None),
        ("search 'report 00042' (reader, shares only)",
         [lambda: reader.get(f"{api}/search?" + urlencode({"q": "report 00042"}))], (200,), None),
        ("admin audit list, first page", [lambda: staff.get("/admin/audit/auditevent/")], (200,), None),
        ("admin audit export (10 min, 1 action), first byte",
         [lambda: staff.get("/admin/audit/auditevent/export/csv/?" + urlencode(window))], (200,), None),
    ]
    cases, queries = [], []
    for label, calls, expect, target in plan:
        if label.startswith(skip):
            log(f"{label}: skipped")
            continue
        cases.append(_timed(label, calls, runs, expect, target, queries))
        log(f"{label}: p50 {cases[-1]['p50_ms']:.1f} ms, p95 {cases[-1]['p95_ms']:.1f} ms")
    return cases, queries


def _plan_nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _plan_nodes(child)


def seq_scans(queries: list, min_rows: int) -> list[dict]:
    """Every Seq Scan, in the plans of the captured statements, on a table the
    planner believes holds more than ``min_rows`` rows."""
    found, seen = [], set()
    with connection.cursor() as cursor:
        for label, sql in queries:
            if sql.lstrip().upper().startswith(SKIP_EXPLAIN) or sql in seen:
                continue
            seen.add(sql)
            try:
                with transaction.atomic():
                    cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
                    plan = cursor.fetchone()[0]
            except Exception as exc:  # noqa: BLE001 - a statement that cannot be re-planned is reported, not fatal
                found.append({"case": label, "table": "?", "rows": 0, "sql": f"(not explainable: {exc}) {sql}"})
                continue
            plan = json.loads(plan) if isinstance(plan, str) else plan
            for node in _plan_nodes(plan[0]["Plan"]):
                if node.get("Node Type") == "Seq Scan":
                    rows = _rows_of(cursor, node["Relation Name"])
                    if rows > min_rows:
                        found.append({"case": label, "table": node["Relation Name"], "rows": rows, "sql": sql})
    return found


def _rows_of(cursor, table: str) -> int:
    cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = %s AND relkind IN ('r', 'p')", [table])
    row = cursor.fetchone()
    return row[0] if row else 0
