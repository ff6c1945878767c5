"""Many tiny files dropped on the file browser, in a real browser.

Debian's Chromium (``/usr/bin/chromium``, driven by Playwright as the browser
tests do) signs in through the login form, opens a fresh folder of the
bench user's personal space, and a drop of ``--files`` files of ``--size``
bytes is dispatched on the file list (``#workspace``, Uppy's drop target): a real
``drop`` event whose ``dataTransfer`` is a ``DataTransfer`` holding the files,
made in the page, so Uppy takes the same path as for a drop from the desktop
(``getDroppedFiles`` → ``addFiles``). The clock starts just before the drop
and stops when the page says it is done: the total reads "100 %", every file's
row says uploaded, and the listing, refreshed, shows the folder's first page
full and the pager (or all the files when they fit on one page). Then, outside
the clock, the files are checked through the API (count, sizes).

Two arms, interleaved, each run in a new folder: "one request" (the page as
served: a file that fits in one part is one PUT to the portal) and, as the
peer, "resumable" (the same page told of no one-request URL, so every file
takes the resumable flow: start, part, complete; ``--no-peer`` skips it).
Medians of ``--runs`` (default 3) and their ratio. Target: "one request"
at most 10 s for 250 files of ~10 bytes. Local store, gunicorn 2 × 8,
Redis as cache and Celery broker as deployed (``BENCH_REDIS_URL``, default
``redis://127.0.0.1:6379/12``, flushed before and after: give it a DB nobody
else uses; no Celery worker runs, so the queued hashing and scanning wait).
``--portal-env PORTAL_REDIS_URL=`` measures the embedded setup instead (file
cache, SQLite broker: every queued task is an SQLite commit).

    .venv/bin/python bench/browser_upload.py [--runs 5] [--files 250] [--size 10] [--no-peer]
    BENCH_BROWSER_TRACE=DIR  also writes the server log and each arm's per-request
                             timeline of the last run into DIR (where the time goes)
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (Client, arguments, log, manage, median, portal, portal_env, stop_on_sigterm,  # noqa: E402
                     table, temp_dir)

CHROMIUM = os.environ.get("PORTAL_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TARGET_SECONDS = 10.0
PAGE_SIZE = 200  # portal/web/browser.py: PAGE_SIZE
TIMEOUT_MS = 600_000
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")

# Files made in the page (``size`` bytes each, distinct contents), in a
# DataTransfer as a drop from the desktop carries them.
_MAKE_DROP = """([count, size]) => {
  const transfer = new DataTransfer();
  for (let i = 0; i < count; i++) {
    const name = `tiny-${String(i).padStart(5, "0")}.txt`;
    const body = (`${i} `.repeat(size)).slice(0, size);
    transfer.items.add(new File([body], name, { type: "text/plain", lastModified: Date.now() }));
  }
  return transfer;
}"""

# The peer arm: before upload.js runs (module scripts run after the document is
# parsed, when readyState turns "interactive"), the uploader loses its
# one-request URL, so every file takes the resumable flow (start, part, complete).
_RESUMABLE_ONLY = """document.addEventListener("readystatechange", () => {
  const root = document.getElementById("uploader");
  if (root) delete root.dataset.directUrl;
});"""

# Done as a user sees it: total at 100 %, every row uploaded, the listing refreshed.
_DONE = """([count, pageSize]) => {
  const errors = document.getElementById("upload-errors");
  if (errors && errors.textContent.trim()) return { error: errors.textContent.trim().slice(0, 500) };
  const percent = document.getElementById("upload-percent");
  if (!percent || percent.textContent.trim() !== "100 %") return false;
  const rows = document.querySelectorAll("#upload-files li");
  if (rows.length !== count) return false;
  for (const row of rows) if (!row.querySelector(".upload-state").textContent.startsWith("✓")) return false;
  const listed = document.querySelectorAll("#workspace tbody tr[data-name]").length;
  const pager = document.querySelector("#workspace nav.pages");
  const done = count > pageSize ? listed === pageSize && pager !== null : listed === count;
  return done ? { error: "" } : false;
}"""


def _extra(parser):
    parser.add_argument("--files", type=int, default=250, help="files per drop (default 250)")
    parser.add_argument("--no-peer", dest="peer", action="store_false",
                        help="skip the peer arm (every file through the resumable flow)")


def _flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def _set_password(server) -> str:
    password = secrets.token_urlsafe(18)
    server.shell("import json\nfrom django.contrib.auth import get_user_model\n"
                 "u = get_user_model().objects.get(username='bench')\n"
                 f"u.set_password({password!r}); u.save()\nprint(json.dumps({{}}))")
    return password


def _collect_static(target: Path) -> None:
    """The pages' static files (Uppy, htmx, upload.js) where the portal's WhiteNoise serves them."""
    env = portal_env(var_dir=target.parent, database_url="postgresql://unused/unused", port=0, storage="local")
    env["PORTAL_STATIC_ROOT"] = str(target)
    manage(env, "collectstatic", "--noinput", "--verbosity", "0")


def _sign_in(page, password: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("bench")
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    if "/accounts/login/" in page.url:
        raise RuntimeError("signing in as bench failed")


def _new_page(browser, server, password: str, *, resumable_only: bool):
    """A signed-in page of its own context; ``resumable_only``: the uploader
    is told of no one-request URL, so every file takes the resumable flow."""
    context = browser.new_context(base_url=server.url)
    context.set_default_timeout(60_000)
    if resumable_only:
        context.add_init_script(_RESUMABLE_ONLY)
    page = context.new_page()
    page.on("pageerror", lambda error: log(f"page error: {error}"))
    _sign_in(page, password)
    return page


def _one_drop(page, client: Client, server, folder: str, files: int, size: int) -> float:
    client.call("POST", f"/spaces/{server.space_id}/folders", 201, json={"path": folder})
    page.goto(f"/spaces/{server.space_id}/?path={folder}")
    page.wait_for_selector('#uploader[data-ready="1"]', state="attached")
    transfer = page.evaluate_handle(_MAKE_DROP, [files, size])
    zone = page.locator("#workspace")
    zone.dispatch_event("dragenter", {"dataTransfer": transfer})
    zone.dispatch_event("dragover", {"dataTransfer": transfer})
    t0 = time.perf_counter()
    zone.dispatch_event("drop", {"dataTransfer": transfer})
    outcome = page.wait_for_function(_DONE, arg=[files, PAGE_SIZE], polling=50, timeout=TIMEOUT_MS).json_value()
    seconds = time.perf_counter() - t0
    if outcome["error"]:
        raise RuntimeError(f"the page shows upload errors: {outcome['error']}")
    _check_stored(client, server, folder, files, size)
    return seconds


def _check_stored(client: Client, server, folder: str, files: int, size: int) -> None:
    listing = client.call("GET", f"/spaces/{server.space_id}/tree{folder}", params={"page_size": 1000})
    stored = [item for item in listing["results"] if item.get("size") == size]
    if len(stored) != files:
        raise RuntimeError(f"{folder}: {len(stored)} of {files} files stored with {size} bytes")


class _Timeline:
    """Per-request timings of a page (Playwright's request events), for BENCH_BROWSER_TRACE."""

    def __init__(self, page):
        self.rows = []
        page.on("requestfinished", self._finished)

    def _finished(self, request):
        timing = request.timing
        self.rows.append({"method": request.method, "url": request.url.split("?")[0][-60:],
                          "start": timing["startTime"], "ms": timing["responseEnd"]})

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.rows, indent=1))


def _measure(browser, server, password: str, args) -> dict[str, list[float]]:
    """Interleaved runs of both arms, each run in a new folder; returns seconds per arm."""
    client = Client(server)
    arms = {"one request": _new_page(browser, server, password, resumable_only=False)}
    if args.peer:
        arms["resumable"] = _new_page(browser, server, password, resumable_only=True)
    trace = os.environ.get("BENCH_BROWSER_TRACE")
    timelines = {name: _Timeline(page) for name, page in arms.items()} if trace else {}
    times = {name: [] for name in arms}
    for run in range(args.runs):
        for name, page in arms.items():
            for timeline in timelines.values():
                timeline.rows.clear()
            folder = f"/drop-{name.replace(' ', '-')}-{run + 1}"
            seconds = _one_drop(page, client, server, folder, args.files, args.size)
            log(f"run {run + 1} ({name}): {args.files} files of {args.size} B, drop → done in {seconds:.2f} s")
            times[name].append(seconds)
            if trace:
                Path(trace).mkdir(parents=True, exist_ok=True)
                timelines[name].write(Path(trace) / f"requests-{name.replace(' ', '-')}.json")
    if trace:
        (Path(trace) / "gunicorn.log").write_text(server.log_tail(100_000))
    return times


def _report(times: dict[str, list[float]], args) -> bool:
    best = median(times["one request"])
    rows = [[f"{name}: {args.files} files × {args.size} B, drop → done", median(values),
             " ".join(f"{t:.2f}" for t in values)] for name, values in times.items()]
    print(table(["arm", "median s", "runs (s)"], rows,
                title="Browser drop of tiny files (Chromium, local store)"))
    if "resumable" in times:
        print(f"resumable flow ÷ one request per file (same run): {median(times['resumable']) / best:.2f}×")
    ok = best <= TARGET_SECONDS
    print(f"drop → done median {best:.2f} s, target ≤ {TARGET_SECONDS:.0f} s: {'PASS' if ok else 'FAIL'}")
    return ok


def main() -> int:
    stop_on_sigterm()
    args = arguments("Tiny files dropped on the file browser in Chromium: drop to done.",
                     size_help="bytes per file", size_default="10", extra=_extra)
    from playwright.sync_api import sync_playwright

    with temp_dir("coffer-bench-static-") as static_parent:
        _collect_static(static_parent / "static")
        settings = {"PORTAL_STATIC_ROOT": str(static_parent / "static"), "PORTAL_REDIS_URL": REDIS_URL,
                    **args.portal_env}
        _flush_redis()
        try:
            with portal(storage="local", extra_env=settings) as server, sync_playwright() as playwright:
                password = _set_password(server)
                browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                try:
                    times = _measure(browser, server, password, args)
                finally:
                    browser.close()
        finally:
            _flush_redis()
    return 0 if _report(times, args) else 1


if __name__ == "__main__":
    sys.exit(main())
