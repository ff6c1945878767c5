"""Listing a 10,000-entry folder: SQL queries per request (must not grow with
the folder) and median time over HTTP (target < 100 ms), against a raw
SELECT of the same rows.

The rows are made directly with the ORM (bulk inserts) in ``manage.py shell``
against the bench database: 1% folders, the rest files with one version each.
Query counts come from the same listing run in-process under
CaptureQueriesContext, for a 100-entry folder and for the big one.

Run: .venv/bin/python bench/listing.py [--runs 3] [--size 10000] [--requests 20]
"""

from __future__ import annotations

import time

import psycopg
import requests

from harness import arguments, log, median, portal, stop_on_sigterm, table, verdict

TARGET_MS = 100
SMALL = 100

_FILL = """
import json
from django.db import connection, transaction
from portal.accounts.models import User
from portal.files import names
from portal.files.models import Blob, FileVersion, Node, NodeKind
from portal.files.services.tree import folder_create

user = User.objects.get(username="bench")
result = {{}}
for label, count in {folders!r}.items():
    folder = folder_create(actor=user, space_id={space_id}, path="/" + label)[0].node
    folders = count // 100
    with transaction.atomic():
        subfolders = [Node(space_id=folder.space_id, parent=folder, kind=NodeKind.FOLDER, name=f"Folder {{i:05d}}",
                           name_key=names.name_key(f"Folder {{i:05d}}"), created_by=user) for i in range(folders)]
        files = [Node(space_id=folder.space_id, parent=folder, kind=NodeKind.FILE, name=f"Report {{i:05d}}.pdf",
                      name_key=names.name_key(f"Report {{i:05d}}.pdf"), size=1000 + i, created_by=user)
                 for i in range(count - folders)]
        Node.objects.bulk_create(subfolders + files, batch_size=2000)
        blobs = [Blob(key=f"blobs/bench/{{folder.pk}}/{{i}}", size=node.size, sha256=f"{{folder.pk:032x}}{{i:032x}}",
                      integrity="verified") for i, node in enumerate(files)]
        Blob.objects.bulk_create(blobs, batch_size=2000)
        FileVersion.objects.bulk_create([FileVersion(node=node, number=1, blob=blob, size=node.size, created_by=user)
                                         for node, blob in zip(files, blobs)], batch_size=2000)
        with connection.cursor() as cursor:
            cursor.execute("UPDATE files_node n SET current_version_id = v.id FROM files_fileversion v "
                           "WHERE v.node_id = n.id AND n.parent_id = %s", [folder.pk])
    result[label] = folder.pk
with connection.cursor() as cursor:
    cursor.execute("ANALYZE")
print(json.dumps(result))
"""

_COUNT = """
import json
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

client = Client(HTTP_HOST="127.0.0.1", headers={{"Authorization": "Bearer {token}"}})
result = {{}}
for label, url in {cases!r}:
    client.get(url)  # warm: the first request pays for imports and caches
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    body = response.json()
    result[label] = {{"status": response.status_code, "queries": len(queries), "entries": len(body.get("results", [])),
                     "sql": [q["sql"][:160] for q in queries.captured_queries]}}
print(json.dumps(result))
"""

_RAW = ("SELECT n.id, n.space_id, n.name, n.kind, n.size, n.modified_at, n.created_at, v.number, b.sha256 "
        "FROM files_node n LEFT JOIN files_fileversion v ON v.id = n.current_version_id "
        "LEFT JOIN files_blob b ON b.id = v.blob_id "
        "WHERE n.parent_id = %s AND n.trashed_at IS NULL ORDER BY n.kind DESC, n.name_key, n.id LIMIT %s OFFSET %s")


def _time_http(session: requests.Session, url: str, count: int) -> list[float]:
    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        response = session.get(url, timeout=60)
        response.content  # noqa: B018 - the whole body is part of the answer
        times.append((time.perf_counter() - t0) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url}: {response.status_code} {response.text[:300]}")
    return times


def _time_raw(conn, folder_id: int, limit: int, offset: int, count: int) -> list[float]:
    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        with conn.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM files_node WHERE parent_id = %s AND trashed_at IS NULL", [folder_id])
            cursor.fetchone()
            cursor.execute(_RAW, [folder_id, limit, offset])
            cursor.fetchall()
        times.append((time.perf_counter() - t0) * 1000)
    return times


def main() -> None:
    def extra(parser):
        parser.add_argument("--requests", type=int, default=20, help="timed requests per case and run (default 20)")

    args = arguments(__doc__.split("\n\n")[0], size_help="entries in the big folder", size_default="10000",
                     extra=extra)
    stop_on_sigterm()
    big = args.size
    pages = max(1, -(-big // 1000))
    with portal(storage="local", extra_env=args.portal_env) as server:
        t0 = time.monotonic()
        ids = server.shell(_FILL.format(folders={"small": SMALL, "big": big}, space_id=server.space_id))
        log(f"{SMALL + big} rows made in {time.monotonic() - t0:.1f} s")
        tree = f"/api/v1/spaces/{server.space_id}/tree"
        cases = [
            (f"{SMALL} entries, default page", f"{tree}/small", ids["small"], 100, 0),
            (f"{big} entries, default page", f"{tree}/big", ids["big"], 100, 0),
            (f"{big} entries, page_size=1000", f"{tree}/big?page_size=1000", ids["big"], 1000, 0),
            (f"{big} entries, last page of 1000", f"{tree}/big?page_size=1000&page={pages}", ids["big"], 1000,
             (pages - 1) * 1000),
        ]
        counts = server.shell(_COUNT.format(token=server.token, cases=[(label, url) for label, url, *_ in cases]))
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {server.token}"
        http = {label: [] for label, *_ in cases}
        raw = {label: [] for label, *_ in cases}
        with psycopg.connect(server.env["PORTAL_DATABASE_URL"]) as conn:
            for label, url, folder_id, limit, offset in cases:  # warm both sides
                _time_http(session, server.url + url, 2)
                _time_raw(conn, folder_id, limit, offset, 2)
            for run in range(1, args.runs + 1):
                for label, url, folder_id, limit, offset in cases:
                    http[label].append(median(_time_http(session, server.url + url, args.requests)))
                    raw[label].append(median(_time_raw(conn, folder_id, limit, offset, args.requests)))
                log(f"run {run}: " + ", ".join(f"{label}: {http[label][-1]:.1f} ms" for label, *_ in cases))

    query_counts = {counts[label]["queries"] for label, *_ in cases}
    constant = len(query_counts) == 1
    rows = []
    for label, *_ in cases:
        ms, raw_ms = median(http[label]), median(raw[label])
        rows.append([label, counts[label]["entries"], counts[label]["queries"], f"{ms:.1f}", f"{raw_ms:.2f}",
                     f"{raw_ms / ms:.3f}", f"< {TARGET_MS}", verdict(ms < TARGET_MS)])
    print()
    print(table(["case", "entries", "queries", "median ms", "raw SELECT ms", "ratio", "target", ""], rows,
                title=f"listing.py: GET /api/v1/spaces/{{id}}/tree/<folder>, median of {args.runs} runs x "
                      f"{args.requests} requests (ratio = coffer throughput / raw SELECT throughput)"))
    summary = sorted(query_counts)
    print(f"queries: {summary[0]} (constant)" if constant else
          f"queries: {', '.join(map(str, summary))} (NOT constant: grows with the folder)")
    if not constant:
        for label, *_ in cases:
            print(f"  {label}:", *counts[label]["sql"], sep="\n    ")


if __name__ == "__main__":
    main()
