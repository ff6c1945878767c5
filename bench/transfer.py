"""Upload and download of one big file through the Coffer API, against a peer
measured in the same run.

- S3 backend (a throwaway SeaweedFS): Coffer's presigned multipart upload
  (parts PUT in parallel) and its 302-to-presigned-GET download, against
  plain boto3 ``upload_file`` / ``download_file`` (default TransferConfig) to
  the same SeaweedFS. Target: coffer/boto3 throughput >= 0.9.
- Local backend: the same Coffer flow (``POST /api/v1/uploads``, parts PUT to
  the portal, ``complete``; the download streamed by the portal). The upload
  is measured against ``cp FILE DEST && sync DEST`` of the same file on the
  same disk: a durable copy, the physical floor, since ``complete`` answers
  only once the bytes are fsync'd. Target: >= 0.6. The download is measured
  against plain ``cp``. Target: >= 0.5.

Run: .venv/bin/python bench/transfer.py [--runs 5] [--size 1G] [--backend s3|local|both]
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from harness import (
    MiB, Client, NotAvailable, arguments, log, mbps, median, portal, random_file, seaweed, sha256_of,
    stop_on_sigterm, table, temp_dir,
)

# (backend, op) -> (peer, target); the local upload is the issue-13 row: upload ÷ a durable copy.
TARGETS = {("s3", "up"): ("boto3", 0.9), ("s3", "down"): ("boto3", 0.9),
           ("local", "up"): ("cp+sync", 0.6), ("local", "down"): ("cp", 0.5)}
PEER_BUCKET = "bench-peer"
WARMUP_SIZE = 64 * MiB


def _timed(action) -> tuple[float, object]:
    t0 = time.perf_counter()
    result = action()
    return time.perf_counter() - t0, result


def _check(path: Path, digest: str, what: str) -> None:
    got = sha256_of(path)
    if got != digest:
        raise SystemExit(f"{what}: SHA-256 mismatch ({got} != {digest})")
    path.unlink()


def _coffer_round(client: Client, source: Path, digest: str, work: Path, run: int, threads: int,
                  streams: int) -> dict:
    up, meta = _timed(lambda: client.upload(source, f"/bench/run-{run}.bin", threads=threads))
    phases = client.last_upload_phases
    log(f"coffer upload phases: start {phases['start']:.2f} s, {phases['part_count']} parts of "
        f"{phases['part_size'] // 2**20} MiB {phases['parts']:.2f} s, complete {phases['complete']:.2f} s")
    target = work / "coffer-download.bin"
    try:
        down, info = _timed(lambda: client.download(meta["id"], target, streams=streams, size=meta["size"]))
    except NotAvailable as exc:
        log(f"download not measured: {exc}")
        return {"up": up, "down": None, "status": str(exc)}
    _check(target, digest, f"Coffer download, run {run}")
    log(f"coffer download: the portal answered {info['status']} in {info['portal'] * 1000:.0f} ms")
    return {"up": up, "down": down, "status": info["status"]}


def _boto3_round(s3, source: Path, digest: str, work: Path, run: int) -> dict:
    import boto3

    peer = boto3.client("s3", endpoint_url=s3.endpoint_url, region_name=s3.region,
                        aws_access_key_id=s3.access_key, aws_secret_access_key=s3.secret_key)
    key = f"bench/run-{run}.bin"
    target = work / "boto3-download.bin"
    up, _ = _timed(lambda: peer.upload_file(str(source), PEER_BUCKET, key))
    down, _ = _timed(lambda: peer.download_file(PEER_BUCKET, key, str(target)))
    _check(target, digest, f"boto3 download, run {run}")
    peer.delete_object(Bucket=PEER_BUCKET, Key=key)
    return {"up": up, "down": down}


def _cp_round(source: Path, work: Path, digest: str, run: int) -> dict:
    target = work / "cp-copy.bin"
    target.unlink(missing_ok=True)
    # The durable copy: Coffer answers `complete` only once the bytes are on
    # disk (fsync); `sync FILE` fsyncs that file (GNU coreutils >= 8.24).
    durable, _ = _timed(lambda: subprocess.run(["sh", "-c", 'cp "$1" "$2" && sync "$2"', "cp+sync",
                                                str(source), str(target)], check=True))
    _check(target, digest, f"cp+sync, run {run}")
    plain, _ = _timed(lambda: subprocess.run(["cp", str(source), str(target)], check=True))
    target.unlink()
    return {"up": durable, "down": plain, "plain": plain}


def measure(backend: str, args, source: Path, digest: str, work: Path, warmup: tuple[Path, str]) -> dict:
    coffer, peer = [], []

    def rounds(server, peer_round):
        client = Client(server)
        # Unmeasured: first requests, first volumes in SeaweedFS, imports in the workers.
        _coffer_round(client, *warmup, work, 0, args.threads, args.download_streams)
        peer_round(0, *warmup)()
        for run in range(1, args.runs + 1):
            # Alternate who goes first, so neither side always gets the warmer cache.
            order = [("coffer", lambda: _coffer_round(client, source, digest, work, run, args.threads,
                                                     args.download_streams)),
                     ("peer", peer_round(run, source, digest))]
            for name, action in (order if run % 2 else order[::-1]):
                result = action()
                (coffer if name == "coffer" else peer).append(result)
                down = "n/a" if result["down"] is None else f"{result['down']:.2f} s"
                log(f"{backend} run {run} {name}: up {result['up']:.2f} s, down {down}")

    if backend == "s3":
        with seaweed() as s3, portal(storage="s3", s3=s3, workers=args.workers, threads=args.server_threads,
                                     extra_env=args.portal_env) as server:
            s3.client().create_bucket(Bucket=PEER_BUCKET)
            rounds(server, lambda run, src, dig: lambda: _boto3_round(s3, src, dig, work, run))
    else:
        with portal(storage="local", workers=args.workers, threads=args.server_threads,
                    extra_env=args.portal_env) as server:
            rounds(server, lambda run, src, dig: lambda: _cp_round(src, work, dig, run))
    downs = [r["down"] for r in coffer if r["down"] is not None]
    plain = [r["plain"] for r in peer if "plain" in r]
    return {"coffer_up": median([r["up"] for r in coffer]), "coffer_down": median(downs) if downs else None,
            "peer_up": median([r["up"] for r in peer]), "peer_down": median([r["down"] for r in peer]),
            "peer_plain": median(plain) if plain else None, "download_status": coffer[0]["status"],
            "coffer_ups": [r["up"] for r in coffer], "peer_ups": [r["up"] for r in peer]}


def _row(backend: str, op: str, coffer: float | None, peer_seconds: float, size: int) -> list:
    peer, target = TARGETS[(backend, op)]
    name = {"up": "upload", "down": "download"}[op]
    if coffer is None:
        return [backend, name, "n/a", "n/a", peer, f"{peer_seconds:.2f}", f"{mbps(size, peer_seconds):.0f}", "n/a",
                f">= {target}", "NOT RUN"]
    ratio = peer_seconds / coffer
    return [backend, name, f"{coffer:.2f}", f"{mbps(size, coffer):.0f}", peer, f"{peer_seconds:.2f}",
            f"{mbps(size, peer_seconds):.0f}", f"{ratio:.2f}", f">= {target}", "PASS" if ratio >= target else "FAIL"]


def _list(seconds: list[float]) -> str:
    return ", ".join(f"{value:.2f}" for value in seconds)


def main() -> None:
    def extra(parser):
        parser.add_argument("--backend", choices=["s3", "local", "both"], default="both")
        parser.add_argument("--threads", type=int, default=8, help="parallel part uploads (default 8)")
        parser.add_argument("--download-streams", type=int, default=1,
                            help="S3 only: fetch the presigned URL with this many parallel Range requests "
                                 "(default 1: one streamed GET, as a browser does)")
        parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
        parser.add_argument("--server-threads", type=int, default=8, help="gunicorn threads (default 8)")

    args = arguments(__doc__.split("\n\n")[0], size_help="file size", size_default="1G", runs_default=5,
                     extra=extra)
    stop_on_sigterm()
    backends = ["s3", "local"] if args.backend == "both" else [args.backend]
    results = {}
    with temp_dir("coffer-bench-transfer-") as work:
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
        for op in ("up", "down"):
            rows.append(_row(backend, op, r[f"coffer_{op}"], r[f"peer_{op}"], args.size))
        if r.get("peer_plain"):  # the upload against a copy that does not wait for the disk
            rows.append([backend, "upload", f"{r['coffer_up']:.2f}", f"{mbps(args.size, r['coffer_up']):.0f}",
                         "cp", f"{r['peer_plain']:.2f}", f"{mbps(args.size, r['peer_plain']):.0f}",
                         f"{r['peer_plain'] / r['coffer_up']:.2f}", "(info)", ""])
        log(f"{backend} upload seconds, coffer: {_list(r['coffer_ups'])}; "
            f"{TARGETS[(backend, 'up')][0]}: {_list(r['peer_ups'])}")
    print()
    print(table(["backend", "op", "coffer s", "coffer MB/s", "peer", "peer s", "peer MB/s", "ratio", "target", ""],
                rows, title=f"transfer.py: {args.size / MiB:.0f} MiB file, median of {args.runs} runs, "
                            f"{args.threads} parallel parts, {args.download_streams} download stream(s), "
                            "SHA-256 verified every run "
                            "(ratio = coffer throughput / peer throughput)"))
    for backend in backends:
        status = results[backend]["download_status"]
        print(f"{backend}: GET /files/{{id}}/content " + (status if isinstance(status, str) else f"answered {status}")
              + (f", then the presigned URL was fetched ({args.download_streams} stream(s))" if status == 302 else ""))


if __name__ == "__main__":
    main()
