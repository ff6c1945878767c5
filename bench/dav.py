"""WebDAV against the REST API for the same file in the same run.

One random file (512 MiB by default) goes up and comes back down both ways
through one portal (gunicorn, `portal.wsgi`, which serves /dav/ beside
Django):

- WebDAV: one streamed `PUT /dav/<space>/...` (HTTP Basic with a personal
  access token; the portal streams the body into the store) and one
  streamed `GET` (the portal streams the object back).
- REST: Coffer's own upload (`POST /api/v1/uploads`, parts PUT in parallel,
  `complete`) and download (`GET /files/{id}/content`; with S3 a 302 to a
  presigned URL, fetched without the portal).

WebDAV necessarily carries every byte through the portal; the REST path does
not with S3. The ratio (WebDAV throughput / REST throughput) says what a
WebDAV client gives up. SHA-256 of every download is checked.

Run: .venv/bin/python bench/dav.py [--runs 3] [--size 512M] [--backend local|s3|both]
"""

from __future__ import annotations

import time
from pathlib import Path

import requests
from harness import (
    Client,
    MiB,
    arguments,
    log,
    mbps,
    median,
    portal,
    random_file,
    seaweed,
    sha256_of,
    stop_on_sigterm,
    stream_to,
    table,
    temp_dir,
)

WARMUP_SIZE = 64 * MiB


def _check(path: Path, digest: str, what: str) -> None:
    got = sha256_of(path)
    if got != digest:
        raise SystemExit(f"{what}: SHA-256 mismatch ({got} != {digest})")
    path.unlink()


class DavClient:
    def __init__(self, server, slug: str, username: str = "bench"):
        self.base = f"{server.url}/dav/{slug}"
        self.session = requests.Session()
        self.session.auth = (username, server.token)

    def put(self, source: Path, name: str) -> None:
        with open(source, "rb") as body:  # streamed, with its Content-Length
            response = self.session.put(f"{self.base}/{name}", data=body, timeout=600)
        if response.status_code not in (201, 204):
            raise RuntimeError(f"WebDAV PUT {name}: {response.status_code} {response.text[:300]}")

    def get(self, name: str, target: Path) -> None:
        response = self.session.get(f"{self.base}/{name}", stream=True, timeout=600)
        if response.status_code != 200:
            raise RuntimeError(f"WebDAV GET {name}: {response.status_code} {response.text[:300]}")
        stream_to(response, target, time.perf_counter())


def _timed(action) -> float:
    t0 = time.perf_counter()
    action()
    return time.perf_counter() - t0


def _dav_round(dav: DavClient, source: Path, digest: str, work: Path, run: int) -> dict:
    name = f"dav-run-{run}.bin"
    up = _timed(lambda: dav.put(source, name))
    target = work / "dav-download.bin"
    down = _timed(lambda: dav.get(name, target))
    _check(target, digest, f"WebDAV download, run {run}")
    return {"up": up, "down": down}


def _rest_round(client: Client, source: Path, digest: str, work: Path, run: int, threads: int) -> dict:
    meta = {}
    up = _timed(lambda: meta.update(client.upload(source, f"/rest-run-{run}.bin", threads=threads)))
    target = work / "rest-download.bin"
    down = _timed(lambda: client.download(meta["id"], target))
    _check(target, digest, f"REST download, run {run}")
    return {"up": up, "down": down}


def measure(backend: str, args, source: Path, digest: str, work: Path, warmup: tuple[Path, str]) -> dict:
    dav_runs, rest_runs = [], []

    def rounds(server):
        client = Client(server)
        slug = client.call("GET", f"/spaces/{server.space_id}/")["slug"]
        dav = DavClient(server, slug)
        # Unmeasured: first requests, imports in the workers, first SeaweedFS volumes.
        _dav_round(dav, *warmup, work, 0)
        _rest_round(client, *warmup, work, 0, args.threads)
        for run in range(1, args.runs + 1):
            order = [("webdav", lambda run=run: _dav_round(dav, source, digest, work, run)),
                     ("rest", lambda run=run: _rest_round(client, source, digest, work, run, args.threads))]
            for name, action in (order if run % 2 else order[::-1]):  # neither side always goes first
                result = action()
                (dav_runs if name == "webdav" else rest_runs).append(result)
                log(f"{backend} run {run} {name}: up {result['up']:.2f} s, down {result['down']:.2f} s")

    if backend == "s3":
        with seaweed() as s3, portal(storage="s3", s3=s3, workers=args.workers, threads=args.server_threads,
                                     extra_env=args.portal_env) as server:
            rounds(server)
    else:
        with portal(storage="local", workers=args.workers, threads=args.server_threads,
                    extra_env=args.portal_env) as server:
            rounds(server)
    return {f"{side}_{op}": median([r[op] for r in runs])
            for side, runs in (("dav", dav_runs), ("rest", rest_runs)) for op in ("up", "down")}


def main() -> None:
    def extra(parser):
        parser.add_argument("--backend", choices=["s3", "local", "both"], default="both")
        parser.add_argument("--threads", type=int, default=8, help="REST: parallel part uploads (default 8)")
        parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
        parser.add_argument("--server-threads", type=int, default=8, help="gunicorn threads (default 8)")

    args = arguments(__doc__.split("\n\n")[0], size_help="file size", size_default="512M", extra=extra)
    stop_on_sigterm()
    backends = ["s3", "local"] if args.backend == "both" else [args.backend]
    results = {}
    with temp_dir("coffer-bench-dav-") as work:
        source = work / "source.bin"
        log(f"writing {args.size / MiB:.0f} MiB of random data")
        digest = random_file(source, args.size)
        warmup = work / "warmup.bin"
        warmup_digest = random_file(warmup, min(args.size, WARMUP_SIZE))
        for backend in backends:
            results[backend] = measure(backend, args, source, digest, work, (warmup, warmup_digest))

    rows = []
    for backend in backends:
        r = results[backend]
        for op, label in (("up", "upload"), ("down", "download")):
            dav_s, rest_s = r[f"dav_{op}"], r[f"rest_{op}"]
            rows.append([backend, label, f"{dav_s:.2f}", f"{mbps(args.size, dav_s):.0f}", f"{rest_s:.2f}",
                         f"{mbps(args.size, rest_s):.0f}", f"{rest_s / dav_s:.2f}"])
    print()
    print(table(["backend", "op", "webdav s", "webdav MB/s", "rest s", "rest MB/s", "ratio"], rows,
                title=f"dav.py: {args.size / MiB:.0f} MiB file, median of {args.runs} runs, SHA-256 verified "
                      f"every run (ratio = WebDAV throughput / REST API throughput; REST uploads "
                      f"{args.threads} parts in parallel)"))


if __name__ == "__main__":
    main()
