"""Metadata at scale: path resolution, listing, move, permission checks,
search and the audit log on a deployment of millions of nodes and events.

A throwaway database ``coffer_scale_<pid>`` is created on PostgreSQL
(``BENCH_POSTGRES_URL``, default postgres@127.0.0.1:5432), migrated, filled
with bulk SQL (bench/scale_data.py: ``--spaces`` spaces, ``--nodes`` nodes,
``--events`` audit events) and dropped at the end unless ``--keep``. Every
case runs the real code path in this process through Django's test client
(the REST API with a bearer token, the admin as a superuser): p50/p95 of
``--runs`` repetitions. Every SQL statement the cases send is captured and
EXPLAINed; a Seq Scan on a table of more than ``--seq-scan-rows`` rows is
reported and makes the run fail (exit status 1, after the report). Targets: p50 <= 20 ms for path resolution and a listing page, a
folder move <= 100 ms whatever its size, no scan of a big table.

Run: .venv/bin/python bench/scale.py [--nodes 10000000] [--events 100000000] [--spaces 100] [--runs 20]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
import time
from io import StringIO
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scale_data
from harness import ROOT, log, stop_on_sigterm, table, verdict

PLANTED_SCAN = "SELECT id FROM files_node WHERE size = 123456789"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spaces", type=int, default=100)
    parser.add_argument("--nodes", type=int, default=10_000_000)
    parser.add_argument("--events", type=int, default=100_000_000)
    parser.add_argument("--runs", type=int, default=20, help="repetitions per case (default 20)")
    parser.add_argument("--seq-scan-rows", type=int, default=10_000, help="a Seq Scan on a table over this many "
                                                                          "rows is reported (default 10,000)")
    parser.add_argument("--skip", action="append", default=[], metavar="CASE",
                        help="leave out the cases whose label starts with CASE (e.g. 'move'; repeatable)")
    parser.add_argument("--keep", action="store_true", help="keep the database (its name is printed)")
    parser.add_argument("--reuse", metavar="DATABASE", help="measure again a database an earlier --keep run left "
                                                            "(no generation; it is kept)")
    parser.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    parser.add_argument("--plant-seq-scan", action="store_true", help=argparse.SUPPRESS)  # proves the check in tests
    args = parser.parse_args()
    if args.spaces < 2 or args.nodes < 20_000 or args.events < 1 or args.runs < 1:
        parser.error("needs --spaces >= 2, --nodes >= 20000, --events >= 1, --runs >= 1")
    if args.reuse and not args.reuse.startswith("coffer_scale_"):
        parser.error(f"--reuse {args.reuse}: not a database of scale.py (coffer_scale_<pid>)")
    return args


def _admin_url() -> str:
    return os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _database_url(name: str) -> str:
    return _admin_url().rsplit("/", 1)[0] + "/" + name


def _django(database_url: str, var_dir: str) -> None:
    os.environ.update({
        "PORTAL_DATABASE_URL": database_url, "PORTAL_VAR_DIR": var_dir, "PORTAL_DEBUG": "0",
        "PORTAL_SECRET_KEY": secrets.token_urlsafe(48), "PORTAL_MASTER_KEY": secrets.token_urlsafe(48),
        "PORTAL_STORAGE": "local", "PORTAL_STORAGE_ROOT": str(Path(var_dir) / "storage"),
        "PORTAL_LOG_LEVEL": "WARNING", "DJANGO_SETTINGS_MODULE": "portal.settings",
    })
    os.environ.pop("PORTAL_REDIS_URL", None)
    sys.path.insert(0, str(ROOT))
    import django
    django.setup()


def _people() -> tuple:
    from portal.accounts.services import user_create

    owner = user_create(actor=None, username="owner", password=secrets.token_urlsafe(24))
    reader = user_create(actor=None, username="reader", password=secrets.token_urlsafe(24))
    admin = user_create(actor=None, username="admin", password=secrets.token_urlsafe(24))
    type(admin).objects.filter(pk=admin.pk).update(is_staff=True, is_superuser=True)
    admin.refresh_from_db()
    return owner, reader, admin, _tokens(owner, reader)


def _people_again() -> tuple:
    from django.contrib.auth import get_user_model

    users = {user.username: user for user in get_user_model().objects.filter(username__in=("owner", "reader", "admin"))}
    return users["owner"], users["reader"], users["admin"], _tokens(users["owner"], users["reader"])


def _tokens(*users) -> dict:
    from django.core.management import call_command

    tokens = {}
    for user in users:
        out = StringIO()
        call_command("issue_token", user.username, "--name", "scale", stdout=out)
        tokens[user.username] = out.getvalue().strip()
    return tokens


def _generated(url: str) -> dict:
    with psycopg.connect(url) as conn:
        return scale_data.generated(conn)


def main() -> None:
    args = _arguments()
    stop_on_sigterm()  # a killed run still drops its database
    name = args.reuse or f"coffer_scale_{os.getpid()}"
    if not args.reuse:
        with psycopg.connect(_admin_url(), autocommit=True) as admin_conn:
            admin_conn.execute(f"CREATE DATABASE {name}")
        log(f"database {name} created")
    try:
        with tempfile.TemporaryDirectory(prefix="coffer-scale-") as var_dir:
            report = _run(args, name, var_dir)
    finally:
        _close_django()
        if args.keep or args.reuse:
            log(f"kept database {name} (measure it again: --reuse {name})")
        else:
            with psycopg.connect(_admin_url(), autocommit=True) as admin_conn:
                admin_conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            log(f"database {name} dropped")
    _print(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    if report["seq_scans"]:
        sys.exit(1)


def _close_django() -> None:
    if "django.db" in sys.modules:
        from django.db import connections
        connections.close_all()


def _run(args, name: str, var_dir: str) -> dict:
    url = _database_url(name)
    _django(url, var_dir)
    if args.reuse:
        made, migrate_seconds = _generated(url), 0.0
        generate_seconds = sum(made["timings"].values())
        args.spaces, args.events = made["spaces"], made["events"]
        owner, reader, admin, tokens = _people_again()
    else:
        from django.core.management import call_command

        t0 = time.monotonic()
        call_command("migrate", "--noinput", verbosity=0)
        migrate_seconds = time.monotonic() - t0
        owner, reader, admin, tokens = _people()
        t0 = time.monotonic()
        with psycopg.connect(url, autocommit=True) as conn:
            made = scale_data.generate(conn, spaces=args.spaces, nodes=args.nodes, events=args.events,
                                       owner=owner.pk, reader=reader.pk, log=log)
        generate_seconds = time.monotonic() - t0
    import scale_cases

    cases, queries = scale_cases.measure(made["ids"], tokens=tokens, admin=admin, runs=args.runs, log=log,
                                           skip=tuple(args.skip))
    if args.plant_seq_scan:
        queries.append(("planted", PLANTED_SCAN))
    scans = scale_cases.seq_scans(queries, args.seq_scan_rows)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        size = cursor.fetchone()[0]
        cursor.execute("SELECT relname, reltuples::bigint, pg_total_relation_size(oid) FROM pg_class "
                       "WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace ORDER BY 3 DESC LIMIT 8")
        tables = [{"table": t, "rows": r, "bytes": b} for t, r, b in cursor.fetchall()]
    return {"database": name, "spaces": args.spaces, "nodes": made["ids"]["nodes"], "events": args.events,
            "runs": args.runs, "migrate_seconds": migrate_seconds, "generate_seconds": generate_seconds,
            "generate_steps": made["timings"], "database_bytes": size, "tables": tables, "cases": cases,
            "queries_explained": len(queries), "seq_scans": scans, "seq_scan_rows": args.seq_scan_rows}


def _print(report: dict) -> None:
    rows = []
    for case in report["cases"]:
        target = case.get("target_ms")
        ok = "" if target is None else verdict(case["p50_ms"] <= target)
        rows.append([case["case"], case["queries"], f"{case['p50_ms']:.1f}", f"{case['p95_ms']:.1f}",
                     "" if target is None else f"<= {target}", ok])
    print()
    print(table(["case", "queries", "p50 ms", "p95 ms", "target", ""], rows,
                title=f"scale.py: {report['nodes']:,} nodes in {report['spaces']} spaces, {report['events']:,} audit "
                      f"events; p50/p95 of {report['runs']} runs, in-process (Django test client)"))
    steps = ", ".join(f"{k} {v:.0f} s" for k, v in report["generate_steps"].items())
    print(f"generated in {report['generate_seconds']:.0f} s ({steps}); migrate {report['migrate_seconds']:.0f} s")
    print(f"database size: {report['database_bytes'] / 1024**3:.2f} GiB ("
          + ", ".join(f"{t['table']} {t['bytes'] / 1024**2:,.0f} MiB" for t in report["tables"][:5]) + ")")
    print(f"EXPLAIN: {report['queries_explained']} captured statements; Seq Scan on a table over "
          f"{report['seq_scan_rows']:,} rows: " + ("none" if not report["seq_scans"] else ""))
    for scan in report["seq_scans"]:
        print(f"  SEQ SCAN {scan['table']} (~{scan['rows']:,} rows) in {scan['case']}: {scan['sql'][:200]}")
    if report["seq_scans"]:
        print(f"FAILED: {len(report['seq_scans'])} plan(s) scan a big table")


if __name__ == "__main__":
    main()
