"""What every benchmark needs: a throwaway SeaweedFS, a throwaway portal
(fresh PostgreSQL database, temp var dir, gunicorn on a free loopback port)
with a user and a token, a small API client, and medians and a table.

Everything started here is stopped and removed when its ``with`` block ends,
also on Ctrl+C or SIGTERM. Processes are ended by their own pid only.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # for tests.support.seaweed

BIN = ROOT / ".venv" / "bin" if (ROOT / ".venv" / "bin" / "gunicorn").exists() else Path(sys.executable).parent
PYTHON = str(BIN / "python")
ADMIN_DSN = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
START_DEADLINE = 90
MB = 1_000_000
MiB = 1024 * 1024
PART_URL_MAX_AGE = 240  # presigned part URLs live 300 s; refresh well before
URL_BATCH = 200


# --- command line ---------------------------------------------------------------

def parse_size(text: str) -> int:
    """'1G', '512M', '64K' (binary units) or a plain number of bytes."""
    units = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
    text = text.strip().upper().removesuffix("IB").removesuffix("B")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def arguments(description: str, *, size_help: str, size_default: str, runs_default: int = 3,
              extra=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--runs", type=int, default=runs_default, help=f"runs to take the median of "
                                                                       f"(default {runs_default})")
    parser.add_argument("--size", type=parse_size, default=parse_size(size_default),
                        help=f"{size_help} (default {size_default})")
    parser.add_argument("--portal-env", action="append", default=[], metavar="PORTAL_NAME=VALUE",
                        help="an extra setting for the portal under test, e.g. PORTAL_DB_CONN_MAX_AGE=60 "
                             "(repeatable)")
    if extra:
        extra(parser)
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    settings = {}
    for item in args.portal_env:
        name, sep, value = item.partition("=")
        if not sep or not name.startswith("PORTAL_"):
            parser.error(f"--portal-env {item!r}: write PORTAL_NAME=VALUE")
        settings[name] = value
    args.portal_env = settings
    return args


def stop_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so every ``finally`` (cleanup) still runs."""
    def handler(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, handler)


# --- numbers and tables -----------------------------------------------------------

def median(values):
    return statistics.median(values)


def mbps(size: int, seconds: float) -> float:
    return size / seconds / MB


def table(headers: list[str], rows: list[list], title: str = "") -> str:
    cells = [[str(h) for h in headers]] + [[_cell(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [title] if title else []
    for index, row in enumerate(cells):
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def random_file(path: Path, size: int) -> str:
    """Write ``size`` random bytes to ``path``; return their SHA-256."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "wb") as out:
        left = size
        while left:
            chunk = os.urandom(min(left, 16 * MiB))
            digest.update(chunk)
            out.write(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while chunk := source.read(16 * MiB):
            digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def temp_dir(prefix: str):
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# --- SeaweedFS ----------------------------------------------------------------------

@contextmanager
def seaweed():
    """``weed mini`` on free loopback ports, from the test suite's launcher."""
    from tests.support.seaweed import running_seaweed

    with running_seaweed(prefix="coffer-bench-seaweed-") as server:
        log(f"SeaweedFS up at {server.endpoint_url}")
        yield server


# --- PostgreSQL ---------------------------------------------------------------------

@contextmanager
def database():
    """A fresh PostgreSQL database for this run; its URL. Dropped at the end."""
    import psycopg

    name = f"coffer_bench_{secrets.token_hex(6)}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield ADMIN_DSN.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- the portal ---------------------------------------------------------------------

class Portal:
    """A running portal: ``url``, ``token``, ``space_id``, ``pid`` (gunicorn
    master), ``env`` (for ``manage.py`` calls), ``var_dir``."""

    def __init__(self, *, url, token, space_id, process, env, var_dir, log_path):
        self.url, self.token, self.space_id = url, token, space_id
        self.process, self.env, self.var_dir, self.log_path = process, env, var_dir, log_path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def storage_root(self) -> Path:
        return Path(self.env["PORTAL_STORAGE_ROOT"])

    def manage(self, *args: str, check: bool = True) -> str:
        return manage(self.env, *args, check=check)

    def shell(self, code: str) -> dict:
        """Run ``code`` in ``manage.py shell`` against this portal's database; it
        must print one JSON object as its last line, which is returned."""
        out = self.manage("shell", "-c", code)
        return json.loads(out.strip().splitlines()[-1])

    def worker_pids(self) -> list[int]:
        return child_pids(self.pid)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def manage(env: dict, *args: str, check: bool = True) -> str:
    done = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if check and done.returncode:
        raise RuntimeError(f"manage.py {args[0]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def portal_env(*, var_dir: Path, database_url: str, port: int, storage: str, s3=None, bucket="coffer-bench") -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_") and k != "DJANGO_SETTINGS_MODULE"}
    env.update({
        "PORTAL_VAR_DIR": str(var_dir),
        "PORTAL_SECRET_KEY": secrets.token_urlsafe(48),
        "PORTAL_MASTER_KEY": secrets.token_urlsafe(48),
        "PORTAL_DEBUG": "0",
        "PORTAL_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "PORTAL_DATABASE_URL": database_url,
        "PORTAL_STORAGE": storage,
        "PORTAL_STORAGE_ROOT": str(var_dir / "storage"),
        "PORTAL_LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    })
    if storage == "s3":
        env.update({"PORTAL_S3_ENDPOINT": s3.endpoint_url, "PORTAL_S3_BUCKET": bucket,
                    "PORTAL_S3_REGION": s3.region, "PORTAL_S3_ACCESS_KEY": s3.access_key,
                    "PORTAL_S3_SECRET_KEY": s3.secret_key})
    return env


_SETUP_USER = """
import json
from portal.accounts.services import user_create
from portal.spaces.models import Space
user = user_create(actor=None, username={username!r}, password={password!r})
space = Space.objects.get(created_by=user, kind="personal")
Space.objects.filter(pk=space.pk).update(quota_bytes=10**15)
print(json.dumps({{"space": space.pk}}))
"""


@contextmanager
def portal(*, storage: str = "local", s3=None, workers: int = 2, threads: int = 8,
           extra_env: dict | None = None, app: str = "portal.wsgi"):
    """Start a portal with its own database and var dir; yield a Portal.
    ``extra_env`` adds or overrides PORTAL_* settings; ``app`` is the WSGI
    module gunicorn serves (bench/ is on its path, for bench-only wrappers)."""
    with database() as database_url, temp_dir("coffer-bench-var-") as var_dir:
        (var_dir / "static").mkdir()
        port = free_port()
        env = portal_env(var_dir=var_dir, database_url=database_url, port=port, storage=storage, s3=s3)
        env.update(extra_env or {})
        t0 = time.monotonic()
        manage(env, "migrate", "--noinput")
        manage(env, "storage_init")
        username = "bench"
        setup = json.loads(manage(env, "shell", "-c", _SETUP_USER.format(
            username=username, password=secrets.token_urlsafe(24))).strip().splitlines()[-1])
        token = manage(env, "issue_token", username, "--name", "bench").strip()
        log(f"portal database ready in {time.monotonic() - t0:.1f} s ({storage} storage)")
        log_path = var_dir / "gunicorn.log"
        with open(log_path, "wb") as server_log:
            process = subprocess.Popen(
                [str(BIN / "gunicorn"), app, "--pythonpath", str(ROOT / "bench"), "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
                 "--threads", str(threads), "--timeout", "300", "--graceful-timeout", "10"],
                cwd=ROOT, env=env, stdout=server_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
        server = Portal(url=f"http://127.0.0.1:{port}", token=token, space_id=setup["space"], process=process,
                        env=env, var_dir=var_dir, log_path=log_path)
        try:
            _wait_for(server, workers)
            log(f"portal up at {server.url} (gunicorn pid {server.pid}, {workers} workers x {threads} threads)")
            yield server
        finally:
            _stop(process)


def _wait_for(server: Portal, workers: int) -> None:
    deadline = time.monotonic() + START_DEADLINE
    headers = {"Authorization": f"Bearer {server.token}"}
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            if requests.get(server.url + "/api/v1/spaces/", headers=headers, timeout=5).status_code == 200 \
                    and len(server.worker_pids()) >= workers:
                return
        except (requests.ConnectionError, requests.Timeout):  # still starting (or the machine is busy)
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the portal did not answer within {START_DEADLINE} s:\n{server.log_tail()}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def child_pids(pid: int) -> list[int]:
    """Direct children of ``pid`` (gunicorn's workers), from /proc."""
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(entry))
    return sorted(children)


def rss_bytes(pid: int, field: str = "VmRSS") -> int | None:
    """VmRSS (or another /proc status field in kB, e.g. VmHWM: the peak) in bytes."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def reset_peak_rss(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False when not allowed."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


# --- the Coffer API, as a client would use it ------------------------------------------

class NotAvailable(RuntimeError):
    """The endpoint is not there (yet): measure the rest, report this one as n/a."""


class Client:
    """Bearer-token calls to the API, and a thread-local plain session for
    presigned URLs (which must not carry the token)."""

    def __init__(self, server: Portal):
        self.base = server.url + "/api/v1"
        self.server = server
        self._local = threading.local()

    def _session(self, name: str, auth: bool) -> requests.Session:
        session = getattr(self._local, name, None)
        if session is None:
            session = requests.Session()
            if auth:
                session.headers["Authorization"] = f"Bearer {self.server.token}"
            setattr(self._local, name, session)
        return session

    @property
    def api(self) -> requests.Session:
        return self._session("api", True)

    @property
    def plain(self) -> requests.Session:
        return self._session("plain", False)

    def call(self, method: str, path: str, expect: int = 200, **kwargs):
        response = self.api.request(method, self.base + path, timeout=300, **kwargs)
        if response.status_code != expect:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:500]}")
        return response.json() if response.content else None

    # uploads ---------------------------------------------------------------------------
    def upload(self, source: Path, path: str, *, threads: int = 8, space_id: int | None = None) -> dict:
        """The whole Coffer upload: start, PUT every part in parallel, complete.
        Returns the completed file's metadata."""
        size = source.stat().st_size
        t0 = time.perf_counter()
        session = self.call("POST", "/uploads", 201,
                            json={"space": space_id or self.server.space_id, "path": path, "size": size})
        urls = _PartUrls(self, session)
        with open(source, "rb") as handle:
            fd = handle.fileno()

            def send(number: int) -> None:
                length = session["part_size"] if number < session["part_count"] else \
                    size - session["part_size"] * (session["part_count"] - 1)
                body = os.pread(fd, length, (number - 1) * session["part_size"])
                for attempt in range(2):
                    response = self.plain.put(urls.get(number), data=body, timeout=300)
                    if response.ok and response.headers.get("ETag"):
                        return
                    if response.status_code == 403 and attempt == 0:  # an expired URL: get a fresh one
                        urls.forget(number)
                        continue
                    raise RuntimeError(f"PUT part {number}: {response.status_code} {response.text[:300]}")

            t1 = time.perf_counter()
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(send, range(1, session["part_count"] + 1)))
        t2 = time.perf_counter()
        done = self.call("POST", f"/uploads/{session['id']}/complete", 201)
        self.last_upload_phases = {"start": t1 - t0, "parts": t2 - t1, "complete": time.perf_counter() - t2,
                                   "part_count": session["part_count"], "part_size": session["part_size"]}
        return done

    # downloads -------------------------------------------------------------------------
    def download(self, file_id: int, target: Path, *, streams: int = 1, size: int | None = None) -> dict:
        """GET the content; follow a 302 to the presigned URL without the token,
        streamed to ``target`` (with ``streams`` > 1 and ``size``: that many
        parallel Range requests on the presigned URL, as boto3 does).
        Returns {"status": the portal's status, "portal": seconds until the
        portal's answer, "ttfb": seconds until the first body byte}."""
        t0 = time.perf_counter()
        response = self.api.get(f"{self.base}/files/{file_id}/content", allow_redirects=False, stream=True,
                                timeout=300)
        first_status, portal_seconds = response.status_code, time.perf_counter() - t0
        if first_status in (404, 405, 501):
            response.close()
            raise NotAvailable(f"GET /files/{file_id}/content answered {first_status}")
        if response.status_code in (301, 302, 303, 307):
            location = response.headers["Location"]
            response.close()
            if streams > 1 and size:
                ranged_download(self, location, target, size, streams)
                return {"status": first_status, "portal": portal_seconds, "ttfb": None}
            response = self.plain.get(location, stream=True, timeout=300)
        if response.status_code != 200:
            raise RuntimeError(f"download of file {file_id}: {response.status_code} {response.text[:500]}")
        ttfb = stream_to(response, target, t0)
        return {"status": first_status, "portal": portal_seconds, "ttfb": ttfb}


RANGE_CHUNK = 8 * MiB  # boto3's default multipart_chunksize


def ranged_download(client: Client, url: str, target: Path, size: int, streams: int) -> None:
    with open(target, "wb") as out:
        out.truncate(size)
        fd = out.fileno()

        def fetch(start: int) -> None:
            end = min(start + RANGE_CHUNK, size) - 1
            response = client.plain.get(url, headers={"Range": f"bytes={start}-{end}"}, stream=True, timeout=300)
            if response.status_code != 206:
                raise RuntimeError(f"ranged GET: {response.status_code} {response.text[:300]}")
            offset = start
            for chunk in response.iter_content(chunk_size=MiB):
                os.pwrite(fd, chunk, offset)
                offset += len(chunk)
            if offset != end + 1:
                raise RuntimeError(f"ranged GET {start}-{end} ended at {offset}")

        with ThreadPoolExecutor(streams) as pool:
            list(pool.map(fetch, range(0, size, RANGE_CHUNK)))


def stream_to(response: requests.Response, target, t0: float) -> float:
    """Write a streamed body to ``target`` (a path or None for nowhere); the
    seconds from ``t0`` to its first byte."""
    ttfb = None
    out = open(target, "wb") if target is not None else None
    try:
        first = response.raw.read(1, decode_content=False)  # headers are in; time the first body byte
        ttfb = time.perf_counter() - t0
        if out is not None:
            out.write(first)
        for chunk in response.iter_content(chunk_size=MiB):
            if out is not None:
                out.write(chunk)
    finally:
        response.close()
        if out is not None:
            out.close()
    return ttfb


class _PartUrls:
    """Part URLs by number, fetched in batches and refreshed before they expire."""

    def __init__(self, client: Client, session: dict):
        self.client, self.id, self.count = client, session["id"], session["part_count"]
        self.lock = threading.Lock()
        now = time.monotonic()
        self.urls = {p["number"]: (p["url"], now) for p in session["parts"]}

    def forget(self, number: int) -> None:
        with self.lock:
            self.urls.pop(number, None)

    def get(self, number: int) -> str:
        with self.lock:
            url, fetched = self.urls.get(number, (None, 0.0))
            if url is None or time.monotonic() - fetched > PART_URL_MAX_AGE:
                stale = [n for n in range(number, min(number + URL_BATCH, self.count + 1))
                         if n not in self.urls or time.monotonic() - self.urls[n][1] > PART_URL_MAX_AGE / 2]
                fresh = self.client.call("GET", f"/uploads/{self.id}", params={"parts": ",".join(map(str, stale))})
                now = time.monotonic()
                self.urls.update({p["number"]: (p["url"], now) for p in fresh["parts"]})
                url = self.urls[number][0]
            return url
