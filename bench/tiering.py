"""Storage tiering of many small files to a packing cold tier on SeaweedFS:
objects in the cold tier per file, the tiering run's throughput, and the
read latency of a packed file against an unpacked one.

One throwaway SeaweedFS holds two buckets: the hot store (``PORTAL_S3_*``)
and the cold tier (``PORTAL_TIERS``: class cold, backend s3, its own
bucket, ``pack`` true). Each run:

1. ``--files`` 100,000 files of 4-64 KiB (random bytes, sizes seeded) are
   written straight into the hot bucket with boto3 (``--fill-threads`` in
   parallel) and their rows made in bulk as an upload and the hashing task
   leave them (``version_add`` + ``blob_hash``: a file node in one of 100
   folders, version 1, a blob with its SHA-256 and integrity verified, the
   space's used bytes), all aged a year (``created_at``). The upload is not
   what is measured. One of them, the *packed probe*, is exactly
   ``--probe-size`` 32 KiB; a twin of that size is stored with ``file_put``
   (the real service) and stays hot: the *unpacked probe*.
2. ``runs.tiering_run()`` is called in one process (``manage.py shell``, the
   same function the ``lifecycle.tier`` Celery task calls; not a worker)
   until no aged blob is left in the hot tier. Each call moves at most
   ``TIER_RUN_BLOBS`` (20,000) blobs, so 100,000 files take several calls,
   as they would take several beat runs; the wall time of them all gives
   files/s and MiB/s. SQL statements and object-store calls are counted per
   file (``--profile DIR`` also writes a cProfile of the run and prints its
   top functions).
3. The cold bucket is listed: new objects / files (target <= 0.001).
4. Read latency, through gunicorn (2 workers x 8 threads) with a Redis cache
   (``BENCH_REDIS_URL``, default db 4, flushed before and after):
   ``GET /api/v1/files/<id>/content`` of the packed probe (the portal
   streams the slice of its container) and of the unpacked probe (302 to a
   presigned URL, followed without the token), ``--reads`` 200 of each,
   interleaved, each timed from the request to the body's last byte over
   keep-alive connections; and the peer: a raw boto3 ``get_object`` of the
   unpacked probe's object from the same SeaweedFS. Target: packed p50 <= 2
   x unpacked p50. Promotion on read is off (``PORTAL_TIER_PROMOTE_ON_READ=0``,
   a space whose cold files stay cold); with it on, the first read would
   queue the blob's move back to the hot store.

``--runs K`` repeats steps 1-4 on the same portal (each run's files are new;
the cold bucket's growth is counted per run) and prints medians.

Run: .venv/bin/python bench/tiering.py [--runs 1] [--files 100000] [--reads 200] [--profile DIR]
Quick: .venv/bin/python bench/tiering.py --files 5000 --runs 3
"""

from __future__ import annotations

import hashlib
import json
import os
import time

import redis

from harness import MiB, arguments, log, median, portal, seaweed, stop_on_sigterm, table, verdict

COLD_BUCKET = "coffer-bench-cold"
HOT_BUCKET = "coffer-bench"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/4")
OBJECTS_PER_FILE_TARGET = 0.001
LATENCY_RATIO_TARGET = 2.0
MIN_SIZE, MAX_SIZE = 4 * 1024, 64 * 1024

_FILL = r"""
import hashlib, io, json, os, random, time, uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
import boto3
from botocore.config import Config
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from portal.accounts.models import User
from portal.files import names
from portal.files.models import Blob, FileVersion, Integrity, Node, NodeKind
from portal.files.services.direct import file_put
from portal.files.services.maintenance import blob_hash
from portal.files.services.tree import folder_create
from portal.spaces.models import Space

RUN, FILES, THREADS, SEED, PROBE = {run}, {files}, {threads}, {seed}, {probe}
user = User.objects.get(username="bench")
space = Space.objects.get(created_by=user, kind="personal")
t0 = time.monotonic()
rng = random.Random(SEED)
sizes = [PROBE] + [rng.randint({min_size}, {max_size}) for _ in range(FILES - 1)]
client = boto3.session.Session().client(
    "s3", endpoint_url=settings.S3_ENDPOINT, region_name=settings.S3_REGION,
    aws_access_key_id=settings.S3_ACCESS_KEY, aws_secret_access_key=settings.S3_SECRET_KEY,
    config=Config(max_pool_connections=THREADS * 2, s3={{"addressing_style": "path"}},
                  request_checksum_calculation="when_required"))

def store(size):
    data = os.urandom(size)
    key = f"blobs/{{uuid.uuid4().hex[:2]}}/{{uuid.uuid4().hex}}"
    client.put_object(Bucket=settings.S3_BUCKET, Key=key, Body=data)
    return key, size, hashlib.sha256(data).hexdigest()

with ThreadPoolExecutor(THREADS) as pool:
    stored = list(pool.map(store, sizes, chunksize=64))
t_objects = time.monotonic() - t0

# The rows an upload (version_add) and the hashing task (blob_hash) leave, aged a year.
aged = timezone.now() - timedelta(days=365)
per_folder = 1000
folders = [folder_create(actor=user, space_id=space.pk, path=f"/tiering-{{RUN}}/d{{i:03d}}")[0].node
           for i in range((FILES + per_folder - 1) // per_folder)]
with transaction.atomic():
    nodes = [Node(space=space, parent=folders[i // per_folder], kind=NodeKind.FILE, name=f"file-{{i:06d}}.bin",
                  name_key=names.name_key(f"file-{{i:06d}}.bin"), size=size, created_at=aged, modified_at=aged,
                  created_by=user) for i, (_, size, _) in enumerate(stored)]
    Node.objects.bulk_create(nodes, batch_size=5000)
    blobs = [Blob(key=key, size=size, sha256=sha, integrity=Integrity.VERIFIED, created_at=aged)
             for key, size, sha in stored]
    Blob.objects.bulk_create(blobs, batch_size=5000)
    FileVersion.objects.bulk_create([FileVersion(node=node, number=1, blob=blob, size=blob.size, created_at=aged,
                                                 created_by=user) for node, blob in zip(nodes, blobs)],
                                    batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE files_node n SET current_version_id = v.id FROM files_fileversion v "
                       "WHERE v.node_id = n.id AND n.id >= %s AND n.id <= %s", [nodes[0].pk, nodes[-1].pk])
    Space.objects.filter(pk=space.pk).update(used_bytes=F("used_bytes") + sum(sizes))
twin = file_put(actor=user, space_id=space.pk, path=f"/tiering-{{RUN}}/hot-probe.bin",
                fileobj=io.BytesIO(os.urandom(PROBE)), size=PROBE)
blob_hash(twin.blob_id)
with connection.cursor() as cursor:
    cursor.execute("ANALYZE")
twin_blob = Blob.objects.get(pk=FileVersion.objects.get(pk=twin.pk).blob_id)
print(json.dumps({{"files": FILES, "bytes": sum(sizes), "objects_seconds": t_objects,
                  "seconds": time.monotonic() - t0, "packed_probe": nodes[0].pk,
                  "packed_sha256": blobs[0].sha256, "hot_probe": twin.node_id, "hot_key": twin_blob.key,
                  "hot_sha256": twin_blob.sha256}}))
"""

_TIER = r"""
import cProfile, io, json, pstats, re, resource, time
from collections import Counter
from datetime import timedelta
from django.db import connection
from django.utils import timezone
from portal.files.models import Blob
from portal.lifecycle.runs import tiering_run
from portal.storage.s3 import S3ObjectStore

PROFILE = {profile!r}
queries, calls = Counter(), Counter()

def count_queries(execute, sql, params, many, context):
    queries[re.sub(r"\s+", " ", sql)[:110]] += 1
    return execute(sql, params, many, context)

def counted(name, method):
    def wrapper(self, *args, **kwargs):
        calls[f"{{name}} ({{self.bucket}})"] += 1
        return method(self, *args, **kwargs)
    return wrapper

for name in ("put", "open", "stat", "delete", "copy", "iter_objects"):
    setattr(S3ObjectStore, name, counted(name, getattr(S3ObjectStore, name)))

def aged_hot():
    return Blob.objects.filter(tier="hot", created_at__lt=timezone.now() - timedelta(days=300)).count()

reports, profiler = [], cProfile.Profile() if PROFILE else None
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime

before = aged_hot()
t0, cpu0 = time.monotonic(), cpu()
with connection.execute_wrapper(count_queries):
    if profiler:
        profiler.enable()
    while True:
        report = tiering_run().as_dict()
        reports.append(report)
        if report.get("blobs", 0) == 0 or report.get("skipped"):
            break
        if not aged_hot():
            break
    if profiler:
        profiler.disable()
seconds, cpu_seconds = time.monotonic() - t0, cpu() - cpu0
top = ""
if profiler:
    profiler.dump_stats(PROFILE)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(45)
    stats.sort_stats("tottime").print_stats(25)
    top = out.getvalue()
print(json.dumps({{"seconds": seconds, "cpu": cpu_seconds, "hot_before": before, "hot_after": aged_hot(),
                  "reports": reports,
                  "queries": sum(queries.values()), "top_queries": queries.most_common(12),
                  "store_calls": dict(calls), "profile": top}}))
"""

_PLACE = r"""
import json
from portal.files.models import Node
node = Node.objects.select_related("current_version__blob").get(pk={node})
blob = node.current_version.blob
print(json.dumps({{"tier": blob.tier, "offset": blob.pack_offset, "size": blob.size}}))
"""


def _count_objects(s3_client, bucket: str) -> int:
    count = 0
    for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        count += page.get("KeyCount", len(page.get("Contents", [])))
    return count


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


class _Reader:
    """The three ways of reading one file, each timed to its body's last byte."""

    def __init__(self, server, s3, fill: dict):
        import boto3
        import requests
        from botocore.config import Config

        self.api = requests.Session()
        self.api.headers["Authorization"] = f"Bearer {server.token}"
        self.plain = requests.Session()   # presigned URLs never carry the token
        self.base = server.url + "/api/v1/files"
        self.fill = fill
        self.boto = boto3.session.Session().client(
            "s3", endpoint_url=s3.endpoint_url, region_name=s3.region, aws_access_key_id=s3.access_key,
            aws_secret_access_key=s3.secret_key,
            config=Config(s3={"addressing_style": "path"}, response_checksum_validation="when_required"))

    def packed(self) -> bytes:
        response = self.api.get(f"{self.base}/{self.fill['packed_probe']}/content", allow_redirects=False)
        if response.status_code != 200:
            raise RuntimeError(f"packed read: {response.status_code} {response.text[:300]}")
        return response.content

    def unpacked(self) -> bytes:
        response = self.api.get(f"{self.base}/{self.fill['hot_probe']}/content", allow_redirects=False)
        if response.status_code != 302:
            raise RuntimeError(f"unpacked read: {response.status_code} {response.text[:300]}")
        body = self.plain.get(response.headers["Location"])
        if body.status_code != 200:
            raise RuntimeError(f"presigned GET: {body.status_code} {body.text[:300]}")
        return body.content

    def raw(self) -> bytes:
        return self.boto.get_object(Bucket=HOT_BUCKET, Key=self.fill["hot_key"])["Body"].read()

    def check(self) -> None:
        for name, expected in (("packed", "packed_sha256"), ("unpacked", "hot_sha256"), ("raw", "hot_sha256")):
            got = hashlib.sha256(getattr(self, name)()).hexdigest()
            if got != self.fill[expected]:
                raise SystemExit(f"{name} read returned other bytes ({got} != {self.fill[expected]})")

    def latencies(self, reads: int) -> dict[str, list[float]]:
        self.check()
        ways = ["packed", "unpacked", "raw"]
        for _ in range(10):   # unmeasured: connections, the workers' first requests
            for name in ways:
                getattr(self, name)()
        times = {name: [] for name in ways}
        for index in range(reads):
            order = ways if index % 2 else ways[::-1]   # neither side always goes first
            for name in order:
                t0 = time.perf_counter()
                getattr(self, name)()
                times[name].append((time.perf_counter() - t0) * 1000)
        return times


def _one_run(args, server, s3, run: int) -> dict:
    s3_client = s3.client()
    cold_before = _count_objects(s3_client, COLD_BUCKET)
    log(f"run {run}: writing {args.files} files of 4-64 KiB into the hot bucket, rows in bulk")
    fill = server.shell(_FILL.format(run=run, files=args.files, threads=args.fill_threads, seed=1000 + run,
                                     probe=args.probe_size, min_size=MIN_SIZE, max_size=MAX_SIZE))
    log(f"run {run}: {fill['files']} files, {fill['bytes'] / MiB:.0f} MiB made in {fill['seconds']:.1f} s "
        f"(objects {fill['objects_seconds']:.1f} s)")
    profile = os.path.join(args.profile, f"tiering-run{run}.pstats") if args.profile else ""
    log(f"run {run}: tiering (runs.tiering_run() in one process) until no aged blob is hot")
    tiered = server.shell(_TIER.format(profile=profile))
    if tiered["hot_after"]:
        raise SystemExit(f"run {run}: {tiered['hot_after']} aged blobs still hot after {tiered['reports']}")
    cold_objects = _count_objects(s3_client, COLD_BUCKET) - cold_before
    moved = sum(r.get("blobs", 0) for r in tiered["reports"])
    log(f"run {run}: {moved} blobs tiered in {tiered['seconds']:.1f} s over {len(tiered['reports'])} calls "
        f"({fill['files'] / tiered['seconds']:.0f} files/s, CPU {tiered['cpu']:.1f} s); "
        f"{cold_objects} new objects in the cold bucket; "
        f"{tiered['queries']} SQL statements ({tiered['queries'] / fill['files']:.2f} per file)")
    log(f"run {run}: store calls: " + ", ".join(f"{name} {count}" for name, count in tiered["store_calls"].items()))
    if args.profile:
        for sql, count in tiered["top_queries"]:
            log(f"  {count:>8}  {sql}")
        print(tiered["profile"])
    placed = server.shell(_PLACE.format(node=fill["packed_probe"]))
    if placed["tier"] != "cold" or placed["offset"] is None:
        raise SystemExit(f"run {run}: the packed probe is not packed in the cold tier: {placed}")
    times = _Reader(server, s3, fill).latencies(args.reads)
    p50 = {name: median(values) for name, values in times.items()}
    p95 = {name: _percentile(values, 0.95) for name, values in times.items()}
    log(f"run {run}: p50 packed {p50['packed']:.2f} ms, unpacked {p50['unpacked']:.2f} ms, raw boto3 "
        f"{p50['raw']:.2f} ms (ratio {p50['packed'] / p50['unpacked']:.2f})")
    return {"files": fill["files"], "bytes": fill["bytes"], "seconds": tiered["seconds"], "cpu": tiered["cpu"],
            "moved": moved,
            "calls": len(tiered["reports"]), "containers": sum(r.get("containers", 0) for r in tiered["reports"]),
            "cold_objects": cold_objects, "queries": tiered["queries"], "store_calls": tiered["store_calls"],
            "p50": p50, "p95": p95}


def main() -> None:
    def extra(parser):
        parser.add_argument("--files", type=int, default=100_000, help="files per run (default 100000)")
        parser.add_argument("--reads", type=int, default=200, help="timed reads of each probe per run (default 200)")
        parser.add_argument("--probe-size", type=int, default=32 * 1024, help="the probes' size (default 32768)")
        parser.add_argument("--fill-threads", type=int, default=16, help="parallel PUTs while filling (default 16)")
        parser.add_argument("--profile", metavar="DIR", default="",
                            help="write a cProfile of each tiering run into DIR and print its top functions")

    args = arguments(__doc__.split("\n\n")[0], size_help="unused (see --files)", size_default="0", runs_default=1,
                     extra=extra)
    if not MIN_SIZE <= args.probe_size <= MAX_SIZE:
        raise SystemExit(f"--probe-size must be {MIN_SIZE}..{MAX_SIZE}")
    if args.profile:
        args.profile = os.path.abspath(args.profile)
        os.makedirs(args.profile, exist_ok=True)
    stop_on_sigterm()
    cache = redis.Redis.from_url(REDIS_URL)
    cache.flushdb()
    tiers = {"cold": {"class": "cold", "backend": "s3", "bucket": COLD_BUCKET, "pack": True}}
    results = []
    try:
        with seaweed() as s3:
            s3.client().create_bucket(Bucket=COLD_BUCKET)
            env = {"PORTAL_TIERS": json.dumps(tiers), "PORTAL_TIER_TARGET": "cold", "PORTAL_REDIS_URL": REDIS_URL,
                   "PORTAL_TIER_PROMOTE_ON_READ": "0", **args.portal_env}
            with portal(storage="s3", s3=s3, extra_env=env) as server:
                for run in range(1, args.runs + 1):
                    results.append(_one_run(args, server, s3, run))
    finally:
        cache.flushdb()
    _print(args, results)


def _print(args, results: list[dict]) -> None:
    files = results[0]["files"]
    seconds = median([r["seconds"] for r in results])
    per_file = median([r["cold_objects"] / r["files"] for r in results])
    rate = median([r["files"] / r["seconds"] for r in results])
    mibs = median([r["bytes"] / MiB / r["seconds"] for r in results])
    p50 = {name: median([r["p50"][name] for r in results]) for name in ("packed", "unpacked", "raw")}
    p95 = {name: median([r["p95"][name] for r in results]) for name in ("packed", "unpacked", "raw")}
    ratio = median([r["p50"]["packed"] / r["p50"]["unpacked"] for r in results])
    print()
    print(table(["tiering", *[f"run {i}" for i in range(1, len(results) + 1)], "median"], [
        ["seconds", *[r["seconds"] for r in results], seconds],
        ["files/s", *[r["files"] / r["seconds"] for r in results], rate],
        ["MiB/s", *[r["bytes"] / MiB / r["seconds"] for r in results], mibs],
        ["CPU s (the tiering process)", *[r["cpu"] for r in results], median([r["cpu"] for r in results])],
        ["CPU ms per file", *[1000 * r["cpu"] / r["files"] for r in results],
         median([1000 * r["cpu"] / r["files"] for r in results])],
        ["tiering_run calls", *[r["calls"] for r in results], median([r["calls"] for r in results])],
        ["containers", *[r["containers"] for r in results], median([r["containers"] for r in results])],
        ["new cold objects", *[r["cold_objects"] for r in results], median([r["cold_objects"] for r in results])],
        ["SQL per file", *[r["queries"] / r["files"] for r in results],
         median([r["queries"] / r["files"] for r in results])],
    ], title=f"tiering.py: {files} files of 4-64 KiB ({results[0]['bytes'] / MiB:.0f} MiB) tiered to a packing "
             f"cold tier (another SeaweedFS bucket), runs.tiering_run() in one process, {len(results)} run(s)"))
    print()
    print(table(["read (ms)", "p50", "p95", "packed/this p50"], [
        ["packed (portal streams a container slice)", p50["packed"], p95["packed"], 1.0],
        ["unpacked (302 + presigned GET)", p50["unpacked"], p95["unpacked"], ratio],
        ["raw boto3 get_object (peer)", p50["raw"], p95["raw"], p50["packed"] / p50["raw"]],
    ], title=f"one {args.probe_size // 1024} KiB file, GET /api/v1/files/<id>/content, {args.reads} reads of each "
             f"per run, interleaved, timed to the last byte; medians of the runs"))
    print()
    print(f"{verdict(per_file <= OBJECTS_PER_FILE_TARGET)}: cold objects per file {per_file:.5f} "
          f"(target <= {OBJECTS_PER_FILE_TARGET})")
    print(f"{verdict(ratio <= LATENCY_RATIO_TARGET)}: packed/unpacked p50 {ratio:.2f} "
          f"(target <= {LATENCY_RATIO_TARGET:g})")
    print(f"tiering: {rate:.0f} files/s, {mibs:.1f} MiB/s (median of {len(results)})")


if __name__ == "__main__":
    main()
