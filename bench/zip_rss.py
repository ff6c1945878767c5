"""A 2 GiB folder downloaded as a streamed zip: peak RSS growth of the portal's
gunicorn workers during the zip (target < 50 MB), time to first byte
(target < 1 s) and throughput against ``cat`` of the same files to /dev/null.

The folder is 16 files of random data uploaded through the API. RSS is
VmRSS from /proc of every gunicorn worker, sampled every 50 ms in a thread;
growth is a worker's peak during the download minus its value just before.
With the local backend ``cat`` reads the stored objects themselves; with S3,
the source files.

Run: .venv/bin/python bench/zip_rss.py [--runs 3] [--size 2G] [--files 16] [--storage local|s3]
"""

from __future__ import annotations

import subprocess
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import requests

from harness import (
    MB, MiB, Client, arguments, log, mbps, median, portal, random_file, reset_peak_rss, rss_bytes, seaweed,
    stop_on_sigterm, table, temp_dir, verdict,
)

TARGET_RSS_MB = 50
TARGET_TTFB = 1.0
SAMPLE_SECONDS = 0.05
FOLDER = "zipbench"


class RssSampler(threading.Thread):
    """Samples VmRSS of ``pids`` until stopped; per pid the value at start and the peak."""

    def __init__(self, pids: list[int]):
        super().__init__(daemon=True)
        self.pids = pids
        # The kernel's own peak (VmHWM), reset now, catches what 50 ms sampling could miss.
        self.hwm_reset = all(reset_peak_rss(pid) for pid in pids)
        self.baseline = {pid: rss_bytes(pid) or 0 for pid in pids}
        self.peak = dict(self.baseline)
        self.samples = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(SAMPLE_SECONDS):
            for pid in self.pids:
                value = rss_bytes(pid)
                if value is not None and value > self.peak[pid]:
                    self.peak[pid] = value
            self.samples += 1

    def stop(self) -> None:
        self._done.set()
        self.join()
        self.hwm = {pid: rss_bytes(pid, "VmHWM") or 0 for pid in self.pids}

    @property
    def growth(self) -> int:
        """The largest growth of any one worker (the one serving the zip)."""
        return max(self.peak[pid] - self.baseline[pid] for pid in self.pids)

    @property
    def hwm_growth(self) -> int | None:
        if not self.hwm_reset:
            return None
        return max(self.hwm[pid] - self.baseline[pid] for pid in self.pids)


def _zip_once(server, path: str) -> dict:
    url = f"{server.url}/api/v1/spaces/{server.space_id}/zip/{path}"
    sampler = RssSampler(server.worker_pids())
    sampler.start()
    received, tail = 0, b""
    try:
        t0 = time.perf_counter()
        response = requests.get(url, headers={"Authorization": f"Bearer {server.token}"}, stream=True, timeout=300)
        if response.status_code != 200:
            raise RuntimeError(f"GET zip: {response.status_code} {response.text[:500]}")
        first = response.raw.read(1, decode_content=False)
        ttfb = time.perf_counter() - t0
        received = len(first)
        for chunk in response.iter_content(chunk_size=MiB):
            received += len(chunk)
            tail = (tail + chunk)[-64 * 1024:]
        seconds = time.perf_counter() - t0
        response.close()
    finally:
        sampler.stop()
    expected = int(response.headers.get("Content-Length", received))
    if received != expected:
        raise RuntimeError(f"the zip ended after {received} of {expected} bytes")
    return {"ttfb": ttfb, "seconds": seconds, "bytes": received, "growth": sampler.growth,
            "hwm_growth": sampler.hwm_growth,
            "members": tail.count(b"PK\x01\x02"), "samples": sampler.samples,
            "baseline": max(sampler.baseline.values())}


def _cat(files: list[Path]) -> float:
    t0 = time.perf_counter()
    subprocess.run(["cat", *map(str, files)], stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


def _stored_objects(server) -> list[Path]:
    root = server.storage_root
    return sorted(p for p in root.rglob("*") if p.is_file() and not any(
        part.startswith(".") for part in p.relative_to(root).parts))


def main() -> None:
    def extra(parser):
        parser.add_argument("--files", type=int, default=16, help="files in the folder (default 16)")
        parser.add_argument("--storage", choices=["local", "s3"], default="local")

    args = arguments(__doc__.split("\n\n")[0], size_help="total size of the folder", size_default="2G", extra=extra)
    stop_on_sigterm()
    each = args.size // args.files
    runs = []
    with ExitStack() as stack:
        work = stack.enter_context(temp_dir("coffer-bench-zip-"))
        s3 = stack.enter_context(seaweed()) if args.storage == "s3" else None
        server = stack.enter_context(portal(storage=args.storage, s3=s3, extra_env=args.portal_env))
        client = Client(server)
        log(f"uploading {args.files} files of {each / MiB:.0f} MiB")
        sources = []
        for number in range(1, args.files + 1):
            source = work / f"file-{number:02d}.bin"
            random_file(source, each)
            client.upload(source, f"/{FOLDER}/file-{number:02d}.bin")
            sources.append(source)
        warm = work / "warm.bin"
        random_file(warm, MiB)
        client.upload(warm, "/warm/warm.bin")
        for _ in range(2 * len(server.worker_pids())):  # load the zip code in every worker
            _zip_once(server, "warm")
        peer_files = _stored_objects(server) if args.storage == "local" else sources
        peer_files = [p for p in peer_files if p.stat().st_size == each]
        if len(peer_files) != args.files:
            raise SystemExit(f"found {len(peer_files)} stored objects of {each} bytes, expected {args.files}")
        payload = each * args.files
        for run in range(1, args.runs + 1):
            order = ["zip", "cat"] if run % 2 else ["cat", "zip"]
            result = {}
            for name in order:
                if name == "zip":
                    result.update(_zip_once(server, FOLDER))
                else:
                    result["cat"] = _cat(peer_files)
            runs.append(result)
            log(f"run {run}: zip {result['seconds']:.2f} s, first byte {result['ttfb'] * 1000:.0f} ms, "
                f"RSS +{result['growth'] / MB:.1f} MB ({result['samples']} samples; VmHWM "
                f"+{(result['hwm_growth'] or 0) / MB:.1f} MB), cat {result['cat']:.2f} s")
        if runs[0]["members"] < args.files:
            raise SystemExit(f"the zip's central directory lists {runs[0]['members']} entries, "
                             f"expected at least {args.files}")

    zip_s, cat_s = median([r["seconds"] for r in runs]), median([r["cat"] for r in runs])
    zip_bytes = runs[0]["bytes"]
    growth_max, growth_med = max(r["growth"] for r in runs), median([r["growth"] for r in runs])
    hwm = [r["hwm_growth"] for r in runs if r["hwm_growth"] is not None]
    worst = max([growth_max, *hwm])
    ttfb = median([r["ttfb"] for r in runs])
    ratio = mbps(zip_bytes, zip_s) / mbps(payload, cat_s)
    rows = [
        ["peak RSS growth, 50 ms samples (max of runs)", f"{growth_max / MB:.1f} MB", f"< {TARGET_RSS_MB} MB",
         verdict(worst < TARGET_RSS_MB * MB)],
        ["peak RSS growth, 50 ms samples (median)", f"{growth_med / MB:.1f} MB", "", ""],
        ["peak RSS growth, kernel VmHWM (max of runs)", f"{max(hwm) / MB:.1f} MB" if hwm else "n/a", "", ""],
        ["worker RSS before the zip", f"{runs[0]['baseline'] / MB:.1f} MB", "", ""],
        ["time to first byte (median)", f"{ttfb * 1000:.0f} ms", f"< {TARGET_TTFB * 1000:.0f} ms",
         verdict(ttfb < TARGET_TTFB)],
        ["zip: time / throughput", f"{zip_s:.2f} s / {mbps(zip_bytes, zip_s):.0f} MB/s", "", ""],
        ["cat > /dev/null: time / throughput", f"{cat_s:.2f} s / {mbps(payload, cat_s):.0f} MB/s", "", ""],
        ["ratio zip / cat throughput", f"{ratio:.2f}", "", ""],
    ]
    print()
    print(table(["measure", "value", "target", ""], rows,
                title=f"zip_rss.py: GET /api/v1/spaces/{{id}}/zip/{FOLDER}, {args.files} x {each / MiB:.0f} MiB "
                      f"({payload / MiB:.0f} MiB, zip {zip_bytes / MiB:.0f} MiB), {args.storage} storage, "
                      f"median of {args.runs} runs"))


if __name__ == "__main__":
    main()
