"""The audit log's two costs, measured in one run.

1. ``audit_verify`` over 1,000,000 events (``--events``): the events are
   written with COPY into a fresh PostgreSQL database (realistic labels,
   paths, user agents and details), sealed with ``chain_seal``, a checkpoint
   is kept and exported, the table vacuumed; then ``manage.py audit_verify
   --json`` runs ``--runs`` times. Target: median under 60 s.
2. The write cost: one small file (``--size``, default 4 KiB) downloaded
   through ``GET /api/v1/files/{id}/content`` (local store, gunicorn) with
   its audit call and without it (``bench/audit_wsgi.py`` turns
   ``downloads.record`` into a no-op for requests carrying a header), the
   two alternating request by request (so both see the same machine load),
   in 5 x ``--runs`` rounds of ``--requests`` pairs, while a sealer runs as beat
   would (every PORTAL_AUDIT_SEAL_SECONDS; ``--no-sealer`` to leave it
   out). Target: audited/unaudited median latency <= 1.10. Download events
   commit asynchronously by default; ``--portal-env
   PORTAL_AUDIT_DURABLE_READS=1`` measures the fully durable cost.

Run: .venv/bin/python bench/audit.py [--runs 3] [--events 1000000] [--requests 200] [--size 4K]
"""

from __future__ import annotations

import json
import random
import subprocess
import time
from datetime import UTC, datetime, timedelta

import psycopg
import requests

from harness import (
    PYTHON, ROOT, Client, arguments, database, log, manage, median, portal, portal_env, random_file,
    stop_on_sigterm, table, temp_dir, verdict,
)

VERIFY_TARGET = 60.0
WRITE_TARGET = 1.10
ROUNDS = 5
COPY_COLUMNS = ("created_at", "actor_id", "actor_label", "action", "outcome", "target_type", "target_id",
                "target_label", "space_id", "ip", "user_agent", "details", "prev_hash", "chain_hash")
ACTIONS = ["file.downloaded", "file.uploaded", "share.viewed", "auth.login", "file.renamed", "lock.acquired"]
AGENTS = ["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
          "coffer-agent/1.4.2 (linux; x86_64)", "Microsoft-WebDAV-MiniRedir/10.0.19045", ""]

_SEAL = """
import json, time
from portal.audit.chain import chain_seal, checkpoint_create, checkpoints_export
t0 = time.perf_counter()
sealed = chain_seal(batch=20000)
checkpoint_create(force=True)
checkpoints_export()
print(json.dumps({"sealed": sealed, "seconds": time.perf_counter() - t0}))
"""

_SEALER_LOOP = """
import time
from django.conf import settings
from portal.audit.chain import chain_maintain
while True:
    chain_maintain()
    time.sleep(settings.AUDIT_SEAL_SECONDS)
"""


def _rows(count: int):
    rnd = random.Random(7)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    step = timedelta(days=300) / count
    for i in range(count):
        user = rnd.randrange(1, 500)
        yield (start + step * i, user, f"user{user:04d}", ACTIONS[i % len(ACTIONS)], "success", "node",
               str(rnd.randrange(1, 10**6)), f"/Projects/Q{i % 4 + 1} report/draft {i:07d}.docx",
               rnd.randrange(1, 200), f"10.{i % 250}.{(i >> 8) % 250}.{i % 199 + 1}", AGENTS[i % len(AGENTS)],
               json.dumps({"version": i % 17 + 1, "size": rnd.randrange(10**9)}), "", "")


def _fill(database_url: str, count: int) -> None:
    t0 = time.monotonic()
    with psycopg.connect(database_url) as conn, conn.cursor() as cursor:
        with cursor.copy(f"COPY audit_auditevent ({', '.join(COPY_COLUMNS)}) FROM STDIN") as copy:
            for row in _rows(count):
                copy.write_row(row)
    log(f"{count:,} events written with COPY in {time.monotonic() - t0:.1f} s")


def _vacuum(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE audit_auditevent")


def verify_bench(args) -> dict:
    with database() as database_url, temp_dir("coffer-bench-var-") as var_dir:
        (var_dir / "static").mkdir()
        env = portal_env(var_dir=var_dir, database_url=database_url, port=0, storage="local")
        manage(env, "migrate", "--noinput")
        manage(env, "storage_init")
        _fill(database_url, args.events)
        sealed = json.loads(manage(env, "shell", "-c", _SEAL).strip().splitlines()[-1])
        log(f"{sealed['sealed']:,} events sealed in {sealed['seconds']:.1f} s")
        _vacuum(database_url)
        inner, wall = [], []
        for run in range(args.runs):
            t0 = time.perf_counter()
            done = subprocess.run([PYTHON, "manage.py", "audit_verify", "--json"], cwd=ROOT, env=env,
                                  capture_output=True, text=True)
            wall.append(time.perf_counter() - t0)
            report = json.loads(done.stdout)
            if done.returncode or not report["ok"] or report["events"] != args.events:
                raise SystemExit(f"audit_verify failed ({done.returncode}): {done.stdout[-2000:]} {done.stderr[-2000:]}")
            inner.append(report["seconds"])
            log(f"verify run {run + 1}: {report['events']:,} events in {report['seconds']:.1f} s "
                f"({wall[-1]:.1f} s with start-up)")
    return {"events": args.events, "verify": median(inner), "wall": median(wall), "sealing": sealed["seconds"]}


def _timed_get(session: requests.Session, url: str, headers: dict) -> float:
    t0 = time.perf_counter()
    response = session.get(url, headers=headers, timeout=60)
    body = response.content
    elapsed = time.perf_counter() - t0
    if response.status_code != 200 or not body:
        raise SystemExit(f"download: {response.status_code} {response.text[:300]}")
    return elapsed


def _paired_gets(session: requests.Session, url: str, arms: dict[str, dict], pairs: int) -> dict[str, list[float]]:
    """``pairs`` requests of each arm, alternating one by one (and which goes
    first), so a change in the machine's load hits both arms alike."""
    times: dict[str, list[float]] = {name: [] for name in arms}
    for number in range(pairs):
        for name in (list(arms) if number % 2 == 0 else list(reversed(arms))):
            times[name].append(_timed_get(session, url, arms[name]))
    return times


def write_cost_bench(args) -> dict:
    with portal(storage="local", app="audit_wsgi", extra_env=args.portal_env) as server, \
            temp_dir("coffer-bench-audit-") as work:
        client = Client(server)
        source = work / "small.bin"
        random_file(source, args.size)
        file_id = client.upload(source, "/bench/small.bin")["id"]
        url = f"{client.base}/files/{file_id}/content"
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {server.token}"
        arms = {"audited": {}, "unaudited": {"X-Bench-No-Audit": "1"}}
        _paired_gets(session, url, arms, 25)  # warm up both workers' connections and caches
        sealer = None
        if not args.no_sealer:
            sealer = subprocess.Popen([PYTHON, "manage.py", "shell", "-c", _SEALER_LOOP], cwd=ROOT, env=server.env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            samples = {name: [] for name in arms}
            rounds = []
            for number in range(ROUNDS * args.runs):
                times = _paired_gets(session, url, arms, args.requests)
                medians = {name: median(times[name]) for name in arms}
                for name in arms:
                    samples[name] += times[name]
                rounds.append(medians["audited"] / medians["unaudited"])
                log(f"round {number + 1}: audited {medians['audited'] * 1000:.2f} ms, unaudited "
                    f"{medians['unaudited'] * 1000:.2f} ms, ratio {rounds[-1]:.3f}")
        finally:
            if sealer is not None:
                sealer.terminate()
                sealer.wait(timeout=20)
        counts = server.shell("import json\nfrom portal.audit.models import AuditEvent\n"
                              "print(json.dumps({'events': AuditEvent.objects.filter(action='file.downloaded')"
                              ".count(), 'sealed': AuditEvent.objects.filter(seq__isnull=False).count()}))")
    audited, unaudited = median(samples["audited"]), median(samples["unaudited"])
    log(f"{counts['events']} download events written, {counts['sealed']} events sealed meanwhile")
    return {"audited": audited * 1000, "unaudited": unaudited * 1000, "ratio": audited / unaudited,
            "round_ratio": median(rounds), "requests": len(samples["audited"])}


def main() -> None:
    stop_on_sigterm()

    def extra(parser):
        parser.add_argument("--events", type=int, default=1_000_000, help="events to verify (default 1,000,000)")
        parser.add_argument("--requests", type=int, default=200, help="downloads per arm and round (default 200)")
        parser.add_argument("--no-sealer", action="store_true", help="no sealing loop during the write bench")
        parser.add_argument("--only", choices=["verify", "write"], help="run one of the two")

    args = arguments(__doc__.splitlines()[0], size_help="the downloaded file's size", size_default="4K",
                     extra=extra)
    results = []
    if args.only != "write":
        v = verify_bench(args)
        results.append(table(
            ["measure", "events", "median s", "with start-up s", "target s", "verdict"],
            [["audit_verify", f"{v['events']:,}", v["verify"], v["wall"], VERIFY_TARGET,
              verdict(v["wall"] < VERIFY_TARGET)]],
            title=f"audit_verify, median of {args.runs} (sealing them took {v['sealing']:.1f} s)"))
    if args.only != "verify":
        w = write_cost_bench(args)
        results.append(table(
            ["download", "median ms", "requests"],
            [["with audit", w["audited"], w["requests"]], ["audit call disabled", w["unaudited"], w["requests"]]],
            title=f"write cost: GET /files/{{id}}/content, {args.size} bytes, local store"))
        results.append(f"ratio audited/unaudited: {w['ratio']:.3f} (median of per-round ratios "
                       f"{w['round_ratio']:.3f}); target <= {WRITE_TARGET}: {verdict(w['ratio'] <= WRITE_TARGET)}")
    print("\n\n".join(results))


if __name__ == "__main__":
    main()
