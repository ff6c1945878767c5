"""The desktop backup agent (``python -m sync_agent``) against restic, both
backing up to the same SeaweedFS bucket in one run.

The portal runs under gunicorn with ``PORTAL_STORAGE=s3`` on a throwaway
SeaweedFS; agents are enrolled with ``manage.py device_token`` and the
``enroll`` command it prints; restic uses the same bucket through its S3
backend (``s3:http://127.0.0.1:<port>/<bucket>/restic``). Data is generated
deterministically (seeded random bytes, some compressible text).

Cases (issue sizes by default; ``--scale 0.25`` shrinks every size and count):

- initial backup of a mixed set (3 large files + 20,000 small ones, >= 2 GiB):
  throughput >= 1.3 x restic (median of ``--runs``, each a new user and a new restic repository)
- second backup with nothing changed, 100,000 files: >= 3 x faster than restic
- 1 % of those files changed: <= 0.5 x restic's time
- full restore of the mixed set: >= 1 x restic's throughput
- two devices backing up the same 1 GiB: stored bytes <= 1.05 x one copy
- ``run`` mode: median time from a file being saved to its snapshot being
  committed <= 3 s
- memory: the agent's peak RSS during ``backup`` per tracked file <= 300 bytes
  at 1,000,000 (empty) files (``--skip-million`` to leave it out)

Needs restic: ``apt-get install -y restic``.

Run: .venv/bin/python bench/agent.py [--scale 0.25] [--runs 3] [--skip-million]
"""

from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests
from harness import (
    MiB, ROOT, arguments, log, median, portal, rss_bytes, seaweed, stop_on_sigterm, table, temp_dir,
)

GiB = 1024 * MiB
BUCKET = "coffer-bench"
RESTIC_PASSWORD = "coffer-bench-restic"


# --- data ---------------------------------------------------------------------------
_WORDS = [bytes(random.Random(n).choices(b"etaoinshrdlucmfwypvbgkqjxz", k=3 + n % 9)) for n in range(5000)]
_LINES = [b" ".join(random.Random(10_000 + n).choices(_WORDS, k=4 + n % 14)) + b"\n" for n in range(20_000)]


def _bytes(rng: random.Random, size: int, text: bool) -> bytes:
    """Random bytes, or text: log-like lines of words (compresses about 3:1, like real text)."""
    if not text:
        return rng.randbytes(size)
    out = b"".join(rng.choices(_LINES, k=size // 40 + 1))
    while len(out) < size:
        out += out
    return out[:size]


def write_big(path: Path, size: int, seed: int, text: bool) -> None:
    rng = random.Random(seed)
    with open(path, "wb") as out:
        left = size
        while left:
            n = min(left, 16 * MiB)
            out.write(_bytes(rng, n, text))
            left -= n


def write_small_files(root: Path, count: int, seed: int, low: int, high: int, per_dir: int = 500) -> int:
    """``count`` files of ``low``..``high`` bytes (a third text), ``per_dir`` per folder; total bytes."""
    rng = random.Random(seed)
    total = 0
    for n in range(count):
        folder = root / f"d{n // per_dir:04d}"
        if n % per_dir == 0:
            folder.mkdir(parents=True, exist_ok=True)
        size = rng.randint(low, high)
        (folder / f"f{n:07d}.{'txt' if n % 3 == 0 else 'bin'}").write_bytes(_bytes(rng, size, n % 3 == 0))
        total += size
    return total


def write_empty_files(root: Path, count: int, per_dir: int = 1000) -> None:
    for n in range(count):
        folder = root / f"d{n // per_dir:05d}"
        if n % per_dir == 0:
            folder.mkdir(parents=True, exist_ok=True)
        open(folder / f"e{n:07d}", "wb").close()


def tree_bytes(root: Path) -> int:
    return sum(os.lstat(os.path.join(d, f)).st_size for d, _, files in os.walk(root) for f in files)


def change_one_percent(root: Path, seed: int) -> int:
    """Rewrite 1 % of the files under ``root`` (new content, new mtime); how many."""
    files = sorted(str(Path(d) / f) for d, _, names in os.walk(root) for f in names)
    rng = random.Random(seed)
    picked = rng.sample(files, max(1, len(files) // 100))
    for path in picked:
        size = os.path.getsize(path)
        with open(path, "wb") as out:
            out.write(_bytes(rng, max(1, size), False))
    return len(picked)


# --- processes ----------------------------------------------------------------------
def timed_run(cmd: list[str], env: dict, *, what: str, cwd=None) -> tuple[float, str, int]:
    """Wall seconds, stdout and peak RSS (bytes, VmHWM sampled every 20 ms) of one command."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd or ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out_box: dict = {}

    def drain(name, stream):
        out_box[name] = stream.read()

    peak = [0]
    done = threading.Event()

    def sample():  # VmHWM of the process itself: wait4's ru_maxrss would include this bench's RSS at fork
        while not done.is_set():
            peak[0] = max(peak[0], rss_bytes(proc.pid, "VmHWM") or 0)
            done.wait(0.02)

    readers = [threading.Thread(target=drain, args=(n, s)) for n, s in (("out", proc.stdout), ("err", proc.stderr))]
    readers.append(threading.Thread(target=sample))
    for t in readers:
        t.start()
    _, status, _usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    done.set()
    for t in readers:
        t.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{what} exited {proc.returncode}:\n{out_box['out'].decode(errors='replace')[-2000:]}\n"
                           f"{out_box['err'].decode(errors='replace')[-3000:]}")
    return seconds, out_box["out"].decode(errors="replace"), peak[0]


class Agent:
    profiled = 0

    def __init__(self, server, work: Path, name: str, user: str = "bench"):
        self.server, self.name = server, name
        self.home = work / f"agent-{name}"
        self.env = {**os.environ, "COFFER_AGENT_HOME": str(self.home), "PYTHONPATH": str(ROOT),
                    "HOME": str(work / "user-home")}
        self.env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        out = server.manage("device_token", user, "--name", name)
        command = next(line.strip() for line in out.splitlines() if "enroll --server" in line)
        args = command.split()[1:]  # coffer-agent enroll --server URL --token TOKEN
        self.cli(*args)
        self.device_id = int(json.loads((self.home / "config.json").read_text())["device_id"])

    def cmd(self, *args: str) -> list[str]:
        cmd = [sys.executable, "-m", "sync_agent", "-q", *args]
        profiles = os.environ.get("BENCH_AGENT_PYSPY")  # a folder: profile every agent command there
        if profiles and args[0] in ("backup", "restore"):
            Agent.profiled += 1
            out = Path(profiles) / f"{Agent.profiled:03d}-{self.name}-{args[0]}.txt"
            cmd = [str(Path(sys.executable).parent / "py-spy"), "record", "-r", "200", "-f", "raw", "-o", str(out),
                   "--", *cmd]
        return cmd

    def cli(self, *args: str) -> tuple[float, str, int]:
        return timed_run(self.cmd(*args), self.env, what=f"agent {self.name} {args[0]}")

    def backup(self) -> tuple[float, dict, int]:
        seconds, out, rss = self.cli("backup", "--json")
        out = "\n".join(line for line in out.splitlines() if not line.startswith("py-spy>"))
        return seconds, json.loads(out), rss

    def set(self, **settings) -> None:
        path = self.home / "config.json"
        config = json.loads(path.read_text())
        config.update(settings)
        path.write_text(json.dumps(config))


def new_user(server, username: str) -> str:
    server.manage("shell", "-c", f"from portal.accounts.services import user_create; "
                                 f"user_create(actor=None, username={username!r}, password={os.urandom(12).hex()!r})")
    return username


class Restic:
    def __init__(self, s3, work: Path, prefix: str = "restic"):
        self.env = {**os.environ, "RESTIC_REPOSITORY": f"s3:{s3.endpoint_url}/{BUCKET}/{prefix}",
                    "RESTIC_PASSWORD": RESTIC_PASSWORD, "AWS_ACCESS_KEY_ID": s3.access_key,
                    "AWS_SECRET_ACCESS_KEY": s3.secret_key, "AWS_DEFAULT_REGION": s3.region,
                    "RESTIC_CACHE_DIR": str(work / "restic-cache"), "HOME": str(work / "user-home")}
        self.run("init")

    def run(self, *args: str) -> tuple[float, str, int]:
        return timed_run(["restic", "-q", *args], self.env, what=f"restic {args[0]}")

    def backup(self, path: Path, host: str = "bench") -> tuple[float, int]:
        seconds, _, rss = self.run("backup", "--host", host, str(path))
        return seconds, rss


def stored_bytes(s3, prefix: str) -> int:
    client = s3.client()
    total, token = 0, None
    while True:
        kwargs = {"Bucket": BUCKET, "Prefix": prefix}
        if token:
            kwargs["ContinuationToken"] = token
        page = client.list_objects_v2(**kwargs)
        total += sum(o["Size"] for o in page.get("Contents", []))
        if not page.get("IsTruncated"):
            return total
        token = page["NextContinuationToken"]


# --- cases --------------------------------------------------------------------------
def main() -> None:
    def extra(parser):
        parser.add_argument("--scale", type=float, default=1.0, help="scale every size and count (default 1)")
        parser.add_argument("--skip-million", action="store_true", help="leave out the 1,000,000-file RSS case")
        parser.add_argument("--million", type=int, default=1_000_000,
                            help="files in the RSS case (before --scale; default 1,000,000)")
        parser.add_argument("--saves", type=int, default=10, help="saves timed in `run` mode (default 10)")
        parser.add_argument("--only", default="", help="comma-separated cases: initial,unchanged,change,"
                                                       "restore,dedup,run,rss")
    args = arguments(__doc__.split("\n\n")[0], size_help="(unused; see --scale)", size_default="0", extra=extra)
    if not shutil.which("restic"):
        raise SystemExit("restic is needed: apt-get install -y restic")
    stop_on_sigterm()
    scale, runs = args.scale, args.runs
    only = set(filter(None, args.only.split(","))) or {"initial", "unchanged", "change", "restore", "dedup",
                                                       "run", "rss"}
    if args.skip_million:
        only.discard("rss")
    rows = []
    with seaweed() as s3, portal(storage="s3", s3=s3, extra_env=args.portal_env) as server, \
            temp_dir("coffer-bench-agent-") as work:
        (work / "user-home").mkdir()
        restic = Restic(s3, work)
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {server.token}"

        # -- initial backup of the mixed set, then its restore
        if only & {"initial", "restore"}:
            mixed = work / "mixed"
            (mixed / "large").mkdir(parents=True)
            t0 = time.monotonic()
            big = [("video-a.raw", 640, False), ("video-b.raw", 640, False), ("log.txt", 512, True)]
            for n, (name, mib, text) in enumerate(big):
                write_big(mixed / "large" / name, int(mib * MiB * scale), seed=100 + n, text=text)
            write_small_files(mixed / "small", int(20_000 * scale), seed=7, low=1024, high=31 * 1024)
            size = tree_bytes(mixed)
            log(f"mixed set: {size / GiB:.2f} GiB, {int(20_000 * scale)} small + 3 large files "
                f"({time.monotonic() - t0:.0f} s to write)")
            a_times, r_times = [], []
            for run in range(runs if "initial" in only else 1):
                # Each run starts from nothing: a new user (dedup stops at the user) and a new restic repository.
                agent = Agent(server, work, f"mixed-{run}", user=new_user(server, f"initial-{run}"))
                agent.cli("add", str(mixed))
                restic_mixed = Restic(s3, work, f"restic-initial-{run}")
                for side in ("agent", "restic") if run % 2 == 0 else ("restic", "agent"):  # neither always first
                    os.sync()
                    if side == "agent":
                        a_sec, summary, a_rss = agent.backup()
                        log(f"agent initial {run + 1}: {a_sec:.1f} s ({size / a_sec / MiB:.0f} MiB/s), uploaded "
                            f"{summary['added_bytes'] / MiB:.0f} MiB in {summary['packs']} packs; "
                            f"peak RSS {a_rss / MiB:.0f} MiB")
                    else:
                        r_sec, r_rss = restic_mixed.backup(mixed)
                        log(f"restic initial {run + 1}: {r_sec:.1f} s ({size / r_sec / MiB:.0f} MiB/s); "
                            f"peak RSS {r_rss / MiB:.0f} MiB")
                a_times.append(a_sec)
                r_times.append(r_sec)
            a_sec, r_sec = median(a_times), median(r_times)
            ratio = r_sec / a_sec
            log(f"initial ratios per run: {', '.join(f'{r / a:.2f}' for a, r in zip(a_times, r_times))}")
            rows.append([f"initial backup {size / GiB:.2f} GiB (MiB/s)", size / a_sec / MiB, size / r_sec / MiB,
                         ratio, ">= 1.3", ratio >= 1.3])

            if "restore" in only:
                a_times, r_times = [], []
                for run in range(runs):
                    target = work / "restore-agent"
                    os.sync()  # neither side pays for the other's dirty pages
                    a_times.append(agent.cli("restore", "latest", "--target", str(target))[0])
                    if run == 0:
                        check_restore(mixed, target / mixed.relative_to("/"))
                    shutil.rmtree(target)
                    target = work / "restore-restic"
                    os.sync()
                    r_times.append(restic_mixed.run("restore", "latest", "--target", str(target))[0])
                    shutil.rmtree(target)
                    log(f"restore run {run + 1}: agent {a_times[-1]:.1f} s, restic {r_times[-1]:.1f} s")
                a, r = median(a_times), median(r_times)
                rows.append([f"full restore {size / GiB:.2f} GiB (MiB/s)", size / a / MiB, size / r / MiB, r / a,
                             ">= 1.0", r / a >= 1.0])
            shutil.rmtree(mixed)

        # -- 100,000 files: unchanged, then 1 % changed
        if only & {"unchanged", "change"}:
            many = work / "many"
            count = int(100_000 * scale)
            t0 = time.monotonic()
            write_small_files(many, count, seed=11, low=100, high=4096)
            log(f"{count} files written in {time.monotonic() - t0:.0f} s")
            agent = Agent(server, work, "many")
            agent.cli("add", str(many))
            a0, _, _ = agent.backup()
            r0, _ = restic.backup(many)
            log(f"first backup of {count} files: agent {a0:.1f} s, restic {r0:.1f} s")
            if "unchanged" in only:
                a_times, r_times = [], []
                for run in range(runs):
                    sec, summary, _ = agent.backup()
                    assert summary["files_read"] == 0, summary
                    a_times.append(sec)
                    r_times.append(restic.backup(many)[0])
                    log(f"unchanged run {run + 1}: agent {a_times[-1]:.2f} s, restic {r_times[-1]:.2f} s")
                a, r = median(a_times), median(r_times)
                rows.append([f"unchanged, {count} files (s)", a, r, r / a, ">= 3 (x faster)", r / a >= 3])
            if "change" in only:
                a_times, r_times = [], []
                for run in range(runs):
                    changed = change_one_percent(many, seed=1000 + run)
                    sec, summary, _ = agent.backup()
                    assert summary["files_read"] == changed, (summary["files_read"], changed)
                    a_times.append(sec)
                    r_times.append(restic.backup(many)[0])
                    log(f"1 % changed ({changed} files) run {run + 1}: agent {a_times[-1]:.2f} s, "
                        f"restic {r_times[-1]:.2f} s")
                a, r = median(a_times), median(r_times)
                rows.append([f"1 % changed, {count} files (s)", a, r, a / r, "<= 0.5 (time)", a / r <= 0.5])
            shutil.rmtree(many)

        # -- two devices, the same data
        if "dedup" in only:
            one = work / "dedup-one"
            one.mkdir()
            size = int(GiB * scale)
            for n in range(4):
                write_big(one / f"part-{n}.bin", size // 4, seed=500 + n, text=n == 3)
            two = work / "dedup-two"
            shutil.copytree(one, two)
            size = tree_bytes(one)
            before = stored_bytes(s3, "backups/packs/")
            first, second = Agent(server, work, "desk-1"), Agent(server, work, "desk-2")
            first.cli("add", str(one))
            second.cli("add", str(two))
            first.backup()
            after_one = stored_bytes(s3, "backups/packs/")
            second.backup()
            after_two = stored_bytes(s3, "backups/packs/")
            r_before = stored_bytes(s3, "restic/")
            restic.backup(one, host="desk-1")
            r_one = stored_bytes(s3, "restic/")
            restic.backup(two, host="desk-2")
            r_two = stored_bytes(s3, "restic/")
            agent_ratio = (after_two - before) / (after_one - before)
            restic_ratio = (r_two - r_before) / (r_one - r_before)
            log(f"dedup: one copy {size / MiB:.0f} MiB; agent stored {(after_one - before) / MiB:.0f} MiB then "
                f"{(after_two - before) / MiB:.0f} MiB; restic {(r_one - r_before) / MiB:.0f} then "
                f"{(r_two - r_before) / MiB:.0f} MiB")
            rows.append([f"2 devices x {size / GiB:.2f} GiB: stored / one copy", agent_ratio, restic_ratio,
                         agent_ratio, "<= 1.05", agent_ratio <= 1.05])
            shutil.rmtree(one)
            shutil.rmtree(two)

        # -- run mode: saved -> committed
        if "run" in only:
            watched = work / "watched"
            write_small_files(watched, 1000, seed=3, low=100, high=2000)
            agent = Agent(server, work, "watcher")
            agent.cli("add", str(watched))
            latencies = run_mode_latencies(agent, api, server, watched, args.saves)
            med = statistics.median(latencies)
            log(f"run mode latencies: {', '.join(f'{x:.2f}' for x in latencies)}")
            rows.append(["run: saved -> committed, median (s)", med, "n/a", "", "<= 3 s", med <= 3])

        # -- memory per tracked file
        if "rss" in only:
            count = int(args.million * scale)
            tree = work / "empties"
            t0 = time.monotonic()
            write_empty_files(tree, count)
            log(f"{count} empty files written in {time.monotonic() - t0:.0f} s")
            agent = Agent(server, work, "million")
            agent.cli("add", str(tree))
            sec, summary, rss = agent.backup()
            log(f"agent backup of {count} empty files: {sec:.1f} s, peak RSS {rss / MiB:.0f} MiB")
            sec2, _, rss2 = agent.backup()
            log(f"agent second backup: {sec2:.1f} s, peak RSS {rss2 / MiB:.0f} MiB")
            r_sec, r_rss = restic.backup(tree)
            log(f"restic backup of {count} empty files: {r_sec:.1f} s, peak RSS {r_rss / MiB:.0f} MiB")
            per = max(rss, rss2) / count
            rows.append([f"peak RSS / file, {count} files (bytes)", per, r_rss / count, "", "<= 300", per <= 300])
            shutil.rmtree(tree)

    print(table(["case", "agent", "restic", "ratio", "target", "result"],
                [[*r[:5], "PASS" if r[5] else "FAIL"] for r in rows],
                title=f"\nsync_agent vs restic {subprocess.run(['restic', 'version'], capture_output=True, text=True).stdout.split()[1]}"
                      f" (scale {scale}, medians of {runs} runs where repeated)"))


def check_restore(source: Path, restored: Path) -> None:
    for d, _, files in os.walk(source):
        for f in files:
            a = Path(d) / f
            b = restored / a.relative_to(source)
            if a.stat().st_size != b.stat().st_size or (a.stat().st_size < 64 * MiB and a.read_bytes() != b.read_bytes()):
                raise SystemExit(f"restore differs: {b}")
    log("agent restore checked against the source")


def run_mode_latencies(agent: Agent, api: requests.Session, server, watched: Path, saves: int) -> list[float]:
    url = f"{server.url}/api/v1/devices/{agent.device_id}/snapshots?page_size=1"

    def newest():
        results = api.get(url, timeout=30).json()["results"]
        return results[0] if results else None

    log_path = agent.home.parent / "watcher.log"
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(agent.cmd("run"), env=agent.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    latencies = []
    try:
        deadline = time.monotonic() + 120
        while newest() is None:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"no start-up snapshot:\n{log_path.read_text()[-2000:]}")
            time.sleep(0.1)
        for n in range(saves):
            before = newest()
            saved = time.monotonic()
            (watched / f"saved-{n}.txt").write_text(f"saved {n}\n" * 50)
            deadline = saved + 60
            while True:
                snap = newest()
                if snap["id"] != before["id"] and snap["files"] > before["files"]:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"save {n} never committed:\n{log_path.read_text()[-2000:]}")
                time.sleep(0.02)
            latencies.append(time.monotonic() - saved)
            time.sleep(0.5)  # the next save lands on an idle watcher
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return latencies


if __name__ == "__main__":
    main()
