"""Requests per second of a share link's public page and of its download
redirect, against a trivial Django view in the same setup, measured in the
same run.

The portal runs under gunicorn (2 workers x 4 threads, as in the Procfile)
with PostgreSQL, a Redis cache (a DB of its own) and a throwaway SeaweedFS as
its S3 store. One small file is uploaded and shared with a download link (no
password, no max_downloads). The gunicorn app is bench/trivial_wsgi.py: the
portal's own WSGI application plus ``/bench/trivial`` answering "ok" through
the same settings and middleware. Then, in interleaved rounds, keep-alive
load on each of:

- trivial:  GET /bench/trivial                    (200 "ok": the peer)
- one-query: GET /bench/one-query                 (200 "ok" after one SELECT 1: for reading
                                                   the others, what one database round trip costs)
- page:     GET /s/{token}                        (200, the file's page)
- download: GET /s/{token}/download               (302 to a presigned URL, not followed)

Every page view and download writes an audit event and a download counts on
the link. Target: page/trivial and download/trivial >= 0.4.

Then, in each round, the single-request latency: ``--requests`` sequential
GETs of each URL over one keep-alive connection (http.client, no load
beside it); the median of each round's p50 is compared with the targets,
page <= 3 ms and download <= 4 ms (the trivial view's is printed beside).

Load comes from ``wrk`` (``apt-get install -y wrk``) if it is on PATH, else
from a Python client (one keep-alive requests.Session per thread), which
needs far more CPU per request and so understates every figure.

Run: .venv/bin/python bench/share.py [--runs 5] [--seconds 5] [--connections 8] [--requests 200]
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import subprocess
import threading
import time
from urllib.parse import urlsplit

import requests

from harness import (
    Client, arguments, log, median, portal, seaweed, stop_on_sigterm, table, temp_dir, verdict,
)

TARGET = 0.4
P50_TARGET_MS = {"page": 3.0, "download": 4.0}
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
TRIVIAL = "/bench/trivial"
ONE_QUERY = "/bench/one-query"
EXPECT = {"trivial": 200, "one-query": 200, "page": 200, "download": 302}


# --- load generators -----------------------------------------------------------------

def wrk_rps(url: str, seconds: int, connections: int, threads: int) -> dict:
    """Requests/s from wrk; non-2xx/3xx answers and socket errors are counted."""
    done = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", url],
                          capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    out = done.stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not found:
        raise RuntimeError(f"wrk printed no Requests/sec:\n{out}")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {"rps": float(found.group(1)), "bad": int(bad.group(1)) if bad else 0,
            "errors": sum(map(int, errors.groups())) if errors else 0}


def python_rps(url: str, seconds: float, connections: int, expect: int) -> dict:
    """The fallback: ``connections`` threads, each with its own keep-alive session."""
    stop = threading.Event()
    counts = [[0, 0] for _ in range(connections)]  # [answers with the expected status, others]

    def hammer(slot: list[int]) -> None:
        session = requests.Session()
        try:
            while not stop.is_set():
                try:
                    response = session.get(url, allow_redirects=False, timeout=10)
                    slot[0 if response.status_code == expect else 1] += 1
                except requests.RequestException:
                    slot[1] += 1
        finally:
            session.close()

    workers = [threading.Thread(target=hammer, args=(slot,), daemon=True) for slot in counts]
    t0 = time.perf_counter()
    for worker in workers:
        worker.start()
    try:
        time.sleep(seconds)
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=15)
    elapsed = time.perf_counter() - t0
    good, bad = sum(c[0] for c in counts), sum(c[1] for c in counts)
    return {"rps": (good + bad) / elapsed, "bad": bad, "errors": 0}


def p50_ms(url: str, count: int, expect: int) -> float:
    """The median time of ``count`` sequential GETs on one keep-alive connection, in ms."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    times = []
    try:
        for _ in range(count):
            t0 = time.perf_counter()
            connection.request("GET", parts.path)
            response = connection.getresponse()
            response.read()
            times.append(time.perf_counter() - t0)
            if response.status != expect:
                raise SystemExit(f"GET {url} answered {response.status}, expected {expect}")
    finally:
        connection.close()
    return median(times) * 1000


# --- setup -----------------------------------------------------------------------------

def _flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def _shared_file(server, work, name: str = "shared.bin") -> dict:
    """Upload a small file (3 KB) through the API and share it with a download link."""
    client = Client(server)
    source = work / name
    source.write_bytes(b"Coffer share-link benchmark.\n" * 100)
    meta = client.upload(source, f"/bench/{name}", threads=1)
    share = client.call("POST", "/shares", 201, json={"node": meta["id"], "permission": "download"})
    return {"file": meta, "token": share["token"], "link": share["id"]}


def _check_answers(urls: dict[str, str]) -> None:
    with requests.Session() as session:
        for name, url in urls.items():
            response = session.get(url, allow_redirects=False, timeout=30)
            if response.status_code != EXPECT[name]:
                raise SystemExit(f"{name}: GET {url} answered {response.status_code}, expected {EXPECT[name]}:\n"
                                 f"{response.text[:500]}")
            if name == "download":
                log(f"download redirects to {response.headers['Location'].split('?')[0]}?…")


def _download_count(server, link_id: int) -> int:
    return server.shell(f"import json; from portal.shares.models import ShareLink; "
                        f"print(json.dumps({{'n': ShareLink.objects.get(pk={link_id}).download_count}}))")["n"]


# --- the run ----------------------------------------------------------------------------

def main() -> None:
    def extra(parser):
        parser.add_argument("--seconds", type=int, default=5, help="length of one measurement (default 5)")
        parser.add_argument("--connections", type=int, default=8,
                            help="concurrent keep-alive connections (default 8 = workers x threads)")
        parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (default 1)")
        parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
        parser.add_argument("--server-threads", type=int, default=4,
                            help="gunicorn threads per worker (default 4, as in the Procfile)")
        parser.add_argument("--file-name", default="shared.bin",
                            help="name of the shared file (default shared.bin: no preview on the page; "
                                 "e.g. notes.txt makes the page show a text preview, read from S3 and "
                                 "counted as a preview on every view)")
        parser.add_argument("--requests", type=int, default=200,
                            help="sequential requests per URL and round for the single-request p50 (default 200)")
        parser.add_argument("--python-client", action="store_true", help="use the Python client even if wrk "
                                                                         "is installed")

    args = arguments(__doc__.split("\n\n")[0], size_help="unused", size_default="0", runs_default=5, extra=extra)
    stop_on_sigterm()
    use_wrk = shutil.which("wrk") is not None and not args.python_client
    if not use_wrk:
        log("wrk not found (install it: apt-get install -y wrk); using the Python client, which "
            "understates every figure" if not args.python_client else "using the Python client")

    def load(name: str, url: str, seconds: float) -> dict:
        if use_wrk:
            return wrk_rps(url, seconds, args.connections, args.wrk_threads)
        return python_rps(url, seconds, args.connections, EXPECT[name])

    env = {"PORTAL_REDIS_URL": REDIS_URL, **args.portal_env}
    rounds: dict[str, list[float]] = {name: [] for name in EXPECT}
    latencies: dict[str, list[float]] = {name: [] for name in EXPECT}
    _flush_redis()
    try:
        with temp_dir("coffer-bench-share-") as work, seaweed() as s3, \
                portal(storage="s3", s3=s3, workers=args.workers, threads=args.server_threads, extra_env=env,
                       app="trivial_wsgi") as server:
            shared = _shared_file(server, work, args.file_name)
            urls = {"trivial": server.url + TRIVIAL, "one-query": server.url + ONE_QUERY,
                    "page": f"{server.url}/s/{shared['token']}",
                    "download": f"{server.url}/s/{shared['token']}/download"}
            _check_answers(urls)
            before = _download_count(server, shared["link"])
            log("warming up (2 s each, not measured)")
            for name, url in urls.items():
                load(name, url, 2)
            names = list(urls)
            for run in range(1, args.runs + 1):
                # Rotate who goes first, so none always follows the same neighbour.
                shift = (run - 1) % len(names)
                for name in names[shift:] + names[:shift]:
                    result = load(name, urls[name], args.seconds)
                    if result["bad"] or result["errors"]:
                        raise SystemExit(f"round {run} {name}: {result['bad']} unexpected answers, "
                                         f"{result['errors']} socket errors\n{server.log_tail()}")
                    rounds[name].append(result["rps"])
                    log(f"round {run} {name}: {result['rps']:.0f} req/s")
                for name in names[shift:] + names[:shift]:
                    latencies[name].append(p50_ms(urls[name], args.requests, EXPECT[name]))
                    log(f"round {run} {name}: p50 {latencies[name][-1]:.2f} ms")
            counted = _download_count(server, shared["link"]) - before
            log(f"the link counted {counted} downloads during the warm-up and rounds")
    finally:
        _flush_redis()

    medians = {name: median(values) for name, values in rounds.items()}
    rows = [[name, *[f"{v:.0f}" for v in rounds[name]], f"{medians[name]:.0f}"] for name in names]
    print(table(["target", *[f"round {i}" for i in range(1, args.runs + 1)], "median"], rows,
                title=f"\nreq/s, {args.file_name}, {args.seconds:g} s rounds, {args.connections} connections, gunicorn "
                      f"{args.workers} workers x {args.server_threads} threads, "
                      f"{'wrk' if use_wrk else 'Python client'}"))
    ratio_rows, ok = [], True
    for name in ("page", "download"):
        ratio = medians[name] / medians["trivial"]
        ok &= ratio >= TARGET
        ratio_rows.append([f"{name}/trivial", f"{ratio:.2f}", f">= {TARGET}", verdict(ratio >= TARGET)])
    ratio_rows.append(["one-query/trivial", f"{medians['one-query'] / medians['trivial']:.2f}", "(info)", ""])
    print()
    print(table(["ratio", "value", "target", ""], ratio_rows))
    print(f"\n{'PASS' if ok else 'FAIL'}: share page and download at >= {TARGET} of the trivial view's req/s"
          if ok else f"\nFAIL: below {TARGET} of the trivial view's req/s")
    p50 = {name: median(values) for name, values in latencies.items()}
    latency_rows = [[name, *[f"{v:.2f}" for v in latencies[name]], f"{p50[name]:.2f}",
                     f"<= {P50_TARGET_MS[name]:g}" if name in P50_TARGET_MS else "",
                     verdict(p50[name] <= P50_TARGET_MS[name]) if name in P50_TARGET_MS else ""]
                    for name in names]
    print(table(["p50 ms", *[f"round {i}" for i in range(1, args.runs + 1)], "median", "target", ""],
                latency_rows, title=f"\nsingle-request p50, {args.requests} sequential GETs per round, "
                                    "one keep-alive connection"))
    fast = all(p50[name] <= limit for name, limit in P50_TARGET_MS.items())
    print(f"\n{'PASS' if fast else 'FAIL'}: single-request p50 page <= {P50_TARGET_MS['page']:g} ms, "
          f"download <= {P50_TARGET_MS['download']:g} ms")


if __name__ == "__main__":
    main()
