"""Importing a bucket: Coffer's import (``manage.py import_run``, the S3
source) against ``rclone copy`` of the same objects into the same SeaweedFS,
measured in the same run.

A throwaway SeaweedFS holds a source bucket of ``--files`` objects (default
20,000) of ``--size`` bytes in all (default 2 GiB; sizes spread from a
quarter to 1.75 times the mean, in 40 folders). Then, in each round:

- rclone: ``rclone copy src:SOURCE dst:PEER/round-k`` with two separately
  configured S3 remotes pointing at the same SeaweedFS, so every object is
  streamed through rclone (GET, then PUT), never copied server-side, with
  ``--transfers`` = the import's concurrency (default 8).
- coffer: ``manage.py import_run`` of the same bucket into a space of a
  portal whose store is a bucket of the same SeaweedFS (PostgreSQL, Redis
  as the Celery broker, as deployed): each object is streamed through the
  import into the store and becomes a file version (quota, names, locks,
  audit, the hashing and scan tasks queued) with its folders and
  modification time.
- boto3: the same GET + PUT of every object with raw boto3 in one Python
  process (``--concurrency`` threads), recording nothing: the floor of a Python copy.
- incremental: the same job run again with nothing changed (every file is
  compared with the last run by ETag and skipped).

Printed: both times, rclone_time / coffer_time (target >= 0.8) and the
incremental run's time as a fraction of the full import's (target <= 0.1);
with ``--runs K`` the medians of K rounds.

Run: .venv/bin/python bench/import.py [--runs 3] [--files 20000] [--size 2G] [--concurrency 8]
Quick: .venv/bin/python bench/import.py --files 2000 --size 200M --runs 1
"""

from __future__ import annotations

import os
import random
import resource
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from harness import (
    PYTHON, ROOT, arguments, log, mbps, median, portal, seaweed, stop_on_sigterm, table, verdict,
)

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
SOURCE_BUCKET = "bench-import-source"
PEER_BUCKET = "bench-import-rclone"
FOLDERS = 40


def _client(s3, pool: int = 32):
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "s3", endpoint_url=s3.endpoint_url, region_name=s3.region, aws_access_key_id=s3.access_key,
        aws_secret_access_key=s3.secret_key, config=Config(max_pool_connections=pool, s3={"addressing_style": "path"}))


def _fill_source(s3, files: int, total: int) -> int:
    """``files`` objects of ``total`` bytes in all (random sizes around the mean) in the source bucket."""
    client = _client(s3)
    client.create_bucket(Bucket=SOURCE_BUCKET)
    client.create_bucket(Bucket=PEER_BUCKET)
    rng = random.Random(17)
    mean = total // files
    sizes = [rng.randint(mean // 4, mean * 7 // 4) for _ in range(files)]
    sizes[-1] = max(1, sizes[-1] + total - sum(sizes))
    pool = os.urandom(max(sizes) + 4096)

    def put(index: int) -> None:
        start = (index * 4099) % 4096
        client.put_object(Bucket=SOURCE_BUCKET, Key=f"data/dir{index % FOLDERS:02}/file-{index:06}.bin",
                          Body=pool[start:start + sizes[index]])

    t0 = time.perf_counter()
    with ThreadPoolExecutor(32) as workers:
        list(workers.map(put, range(files)))
    log(f"source bucket: {files} objects, {sum(sizes) / 2**20:.0f} MiB, written in {time.perf_counter() - t0:.1f} s")
    return sum(sizes)


def _rclone_env(s3) -> dict:
    # AWS_CA_BUNDLE makes rclone's S3 client refuse its own transport; the endpoint is plain http anyway.
    env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
    for remote in ("SRC", "DST"):  # two remotes: rclone cannot copy server-side between them, it streams
        env.update({f"RCLONE_CONFIG_{remote}_TYPE": "s3", f"RCLONE_CONFIG_{remote}_PROVIDER": "SeaweedFS",
                    f"RCLONE_CONFIG_{remote}_ENDPOINT": s3.endpoint_url,
                    f"RCLONE_CONFIG_{remote}_ACCESS_KEY_ID": s3.access_key,
                    f"RCLONE_CONFIG_{remote}_SECRET_ACCESS_KEY": s3.secret_key,
                    f"RCLONE_CONFIG_{remote}_REGION": s3.region})
    env["RCLONE_CONFIG"] = "/dev/null"
    return env


def _rclone_copy(s3, round_no: int, concurrency: int) -> float:
    command = ["rclone", "copy", f"src:{SOURCE_BUCKET}/data", f"dst:{PEER_BUCKET}/round-{round_no}",
               "--transfers", str(concurrency), "--checkers", str(concurrency * 2)]
    t0 = time.perf_counter()
    done = subprocess.run(command, env=_rclone_env(s3), capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode:
        raise SystemExit(f"rclone copy failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds


def _boto3_copy(s3, round_no: int, concurrency: int) -> float:
    """The Python floor: list the source, then GET and PUT each object with ``concurrency``
    threads of one process (raw boto3, nothing recorded anywhere)."""
    client = _client(s3, pool=concurrency * 2)
    t0 = time.perf_counter()
    keys = [item["Key"] for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=SOURCE_BUCKET, Prefix="data/") for item in page.get("Contents", [])]

    def copy(key: str) -> None:
        body = client.get_object(Bucket=SOURCE_BUCKET, Key=key)["Body"].read()
        client.put_object(Bucket=PEER_BUCKET, Key=f"boto3-{round_no}/{key}", Body=body)

    with ThreadPoolExecutor(concurrency) as workers:
        list(workers.map(copy, keys))
    return time.perf_counter() - t0


def _import(server, s3, args_: list[str]) -> tuple[float, str]:
    env = {**server.env, "BENCH_SOURCE_SECRET": s3.secret_key}
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run([PYTHON, "manage.py", "import_run", "--no-progress", *args_], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    log(f"import_run {' '.join(args_[:2])}: {seconds:.1f} s, its CPU {cpu1.ru_utime - cpu0.ru_utime:.1f} s user "
        f"+ {cpu1.ru_stime - cpu0.ru_stime:.1f} s system")
    if done.returncode:
        raise SystemExit(f"import_run failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return seconds, done.stdout


def _coffer_round(server, s3, round_no: int, concurrency: int, files: int) -> tuple[float, float]:
    full, out = _import(server, s3, [
        "--as", "bench", "--space", str(server.space_id), "--to", f"/round-{round_no}", "--source", "s3",
        "--endpoint", s3.endpoint_url, "--bucket", SOURCE_BUCKET, "--prefix", "data/", "--region", s3.region,
        "--access-key", s3.access_key, "--secret-key-env", "BENCH_SOURCE_SECRET",
        "--concurrency", str(concurrency)])
    if f"{files} copied" not in out:
        raise SystemExit(f"the import did not copy every file:\n{out[-2000:]}")
    job = out.split("Created import job ", 1)[1].split(" ", 1)[0]
    again, out = _import(server, s3, ["--job", job])
    if f"{files} unchanged" not in out:
        raise SystemExit(f"the incremental run copied something:\n{out[-2000:]}")
    return full, again


def _flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


_ADMIN = ("from django.contrib.auth import get_user_model; get_user_model().objects.filter(username='bench')"
          ".update(is_superuser=True, is_staff=True); print('{}')")


def main() -> None:
    def extra(parser):
        parser.add_argument("--files", type=int, default=20_000, help="objects in the source bucket (default 20000)")
        parser.add_argument("--concurrency", type=int, default=8,
                            help="parallel transfers, the import's and rclone's --transfers (default 8)")

    args = arguments(__doc__.split("\n\n")[0], size_help="total bytes of the source objects", size_default="2G",
                     runs_default=1, extra=extra)
    stop_on_sigterm()
    if shutil.which("rclone") is None:
        raise SystemExit("rclone is not installed (apt-get install -y rclone)")
    _flush_redis()
    rows, rclone_times, boto3_times, coffer_times, incremental = [], [], [], [], []
    env = {"PORTAL_REDIS_URL": REDIS_URL, "PORTAL_IMPORT_MAX_CONCURRENCY": "64", **args.portal_env}
    with seaweed() as s3, portal(storage="s3", s3=s3, workers=1, threads=2, extra_env=env) as server:
        server.shell(_ADMIN)
        total = _fill_source(s3, args.files, args.size)
        log("rclone copies between two remotes configured separately (src:, dst:) on the same SeaweedFS: "
            "it streams every object (GET + PUT), no server-side copy")
        for round_no in range(1, args.runs + 1):
            peer = _rclone_copy(s3, round_no, args.concurrency)
            log(f"round {round_no}: rclone copy {peer:.1f} s")
            floor = _boto3_copy(s3, round_no, args.concurrency)
            log(f"round {round_no}: boto3 copy (one Python process, {args.concurrency} threads) {floor:.1f} s")
            boto3_times.append(floor)
            full, again = _coffer_round(server, s3, round_no, args.concurrency, args.files)
            log(f"round {round_no}: coffer import {full:.1f} s, incremental (nothing changed) {again:.1f} s")
            rclone_times.append(peer)
            coffer_times.append(full)
            incremental.append(again)
            rows.append([round_no, peer, floor, full, peer / full, floor / full, again / full])
    ratio, fraction = median(rclone_times) / median(coffer_times), median(incremental) / median(coffer_times)
    print(table(["round", "rclone s", "boto3 s", "coffer s", "rclone/coffer", "boto3/coffer", "incr/full"], rows,
                title=f"{args.files} files, {total / 2**20:.0f} MiB, concurrency {args.concurrency}"))
    print(f"rclone copy {median(rclone_times):.1f} s ({mbps(total, median(rclone_times)):.0f} MB/s), "
          f"coffer import {median(coffer_times):.1f} s ({mbps(total, median(coffer_times)):.0f} MB/s), "
          f"{args.files / median(coffer_times):.0f} files/s")
    print(f"boto3 copy (the Python floor: GET + PUT, {args.concurrency} threads, one process) "
          f"{median(boto3_times):.1f} s; boto3/coffer {median(boto3_times) / median(coffer_times):.2f}")
    print(f"ratio rclone/coffer {ratio:.2f} (target >= 0.8: {verdict(ratio >= 0.8)}); incremental with nothing "
          f"changed {fraction:.3f} of the full import (target <= 0.1: {verdict(fraction <= 0.1)})")


if __name__ == "__main__":
    main()
