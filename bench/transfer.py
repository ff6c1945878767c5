"""Upload and download of one big file through the Coffer API, against a peer
measured in the same run.

- S3 backend (a throwaway SeaweedFS): Coffer's presigned multipart upload
  (parts PUT in parallel) and its 302-to-presigned-GET download, against
  plain boto3 ``upload_file`` / ``download_file`` (default TransferConfig) to
  the same SeaweedFS. Target: coffer/boto3 throughput >= 0.9.
- Local backend: the same Coffer flow (parts PUT to the portal, download
  streamed by it) against ``cp`` of the same file on the same disk.
  Target: >= 0.5.

Run: .venv/bin/python bench/transfer.py [--runs 3] [--size 1G] [--backend s3|local|both]
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from harness import (
    MiB, Client, NotAvailable, arguments, log, mbps, median, portal, random_file, seaweed, sha256_of,
    stop_on_sigterm, table, temp_dir, verdict,
)

TARGETS = {"s3": 0.9, "local": 0.5}
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
    seconds, _ = _timed(lambda: subprocess.run(["cp", str(source), str(target)], check=True))
    # Coffer answers an upload only once the bytes are on disk (fsync); so does this peer.
    flushed, _ = _timed(lambda: subprocess.run(["sync", str(target)], check=True))
    _check(target, digest, f"cp, run {run}")
    return {"up": seconds, "down": seconds, "durable": seconds + flushed}


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
    durable = [r["durable"] for r in peer if "durable" in r]
    return {"coffer_up": median([r["up"] for r in coffer]), "coffer_down": median(downs) if downs else None,
            "peer_up": median([r["up"] for r in peer]), "peer_down": median([r["down"] for r in peer]),
            "peer_durable": median(durable) if durable else None, "download_status": coffer[0]["status"]}


def main() -> None:
    def extra(parser):
        parser.add_argument("--backend", choices=["s3", "local", "both"], default="both")
        parser.add_argument("--threads", type=int, default=8, help="parallel part uploads (default 8)")
        parser.add_argument("--download-streams", type=int, default=1,
                            help="S3 only: fetch the presigned URL with this many parallel Range requests "
                                 "(default 1: one streamed GET, as a browser does)")
        parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
        parser.add_argument("--server-threads", type=int, default=8, help="gunicorn threads (default 8)")

    args = arguments(__doc__.split("\n\n")[0], size_help="file size", size_default="1G", extra=extra)
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
        peer = "boto3" if backend == "s3" else "cp"
        for op in ("up", "down"):
            if r[f"coffer_{op}"] is None:
                rows.append([backend, "download", "n/a", "n/a", peer, f"{r[f'peer_{op}']:.2f}",
                             f"{mbps(args.size, r[f'peer_{op}']):.0f}", "n/a", f">= {TARGETS[backend]}", "NOT RUN"])
                continue
            ratio = r[f"peer_{op}"] / r[f"coffer_{op}"]
            rows.append([backend, {"up": "upload", "down": "download"}[op],
                         f"{r[f'coffer_{op}']:.2f}", f"{mbps(args.size, r[f'coffer_{op}']):.0f}",
                         peer, f"{r[f'peer_{op}']:.2f}", f"{mbps(args.size, r[f'peer_{op}']):.0f}",
                         f"{ratio:.2f}", f">= {TARGETS[backend]}", verdict(ratio >= TARGETS[backend])])
        if r.get("peer_durable"):  # the same upload against a copy that also waits for the disk
            rows.append([backend, "upload", f"{r['coffer_up']:.2f}", f"{mbps(args.size, r['coffer_up']):.0f}",
                         "cp+sync", f"{r['peer_durable']:.2f}", f"{mbps(args.size, r['peer_durable']):.0f}",
                         f"{r['peer_durable'] / r['coffer_up']:.2f}", "(info)", ""])
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
