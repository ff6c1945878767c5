"""Browser tests: Playwright driving Debian's Chromium against a live portal.

Registered from tests/conftest.py (``pytest_plugins``). Fixtures:

- ``browser`` (session): headless Chromium from ``/usr/bin/chromium`` (never a
  downloaded build: ``playwright install`` is not used).
- ``page``: a fresh page in a fresh context whose ``base_url`` is the live
  server (pytest-django's ``live_server`` on 127.0.0.1, a free port, with
  ``transactional_db``), so ``page.goto("/accounts/login/")`` works.
- ``new_page``: makes more such pages, each in its own context (another user).
- ``signed_in_page(user)``: a new page signed in through the real login form.
- ``console_errors``: requested by a test, fails it if any of its pages logged
  a console error or threw an uncaught error (``console_errors.clear()``
  forgets ones the test provoked on purpose).
- ``screenshot(page, name)``: a full-page PNG in the screenshot folder
  (``var/test-screenshots/``, or ``PORTAL_TEST_SCREENSHOTS``), named after the
  test; the folder is printed at the end of the run.

Without Chromium the browser tests are skipped and the run says so loudly;
with ``PORTAL_TEST_REQUIRE_SERVICES=1`` (CI) they fail instead.

While Playwright's sync API is alive it marks an asyncio loop as running in
the main thread, and Django then refuses ORM calls from it. So
``DJANGO_ALLOW_ASYNC_UNSAFE`` is set exactly while the browser runs, and the
browser tests run last, after every other test, so no other test runs with it.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("PORTAL_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
DEFAULT_TIMEOUT_MS = 15_000
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("PORTAL_TEST_SCREENSHOTS") or ROOT / "var" / "test-screenshots")
REQUIRED = os.environ.get("PORTAL_TEST_REQUIRE_SERVICES") == "1"


def _unavailable() -> str | None:
    """Why browser tests cannot run here, or None."""
    if not os.access(CHROMIUM, os.X_OK):
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -r requirements-dev.txt)"
    return None


UNAVAILABLE = _unavailable()


@dataclass
class _Run:
    browser_tests: int = 0
    skipped: int = 0
    screenshots: list[Path] = field(default_factory=list)


_run = _Run()


def _is_browser_test(item) -> bool:
    return "browser" in getattr(item, "fixturenames", ())


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives Chromium (added to every test that uses a browser fixture)")
    if not config.getvalue("liveserver"):
        config.option.liveserver = "127.0.0.1"  # loopback, a free port


@pytest.hookimpl(trylast=True)  # after pytest-django's reordering, which would undo ours
def pytest_collection_modifyitems(config, items):
    browser_items = [item for item in items if _is_browser_test(item)]
    if not browser_items:
        return
    for item in browser_items:
        item.add_marker(pytest.mark.browser)
        if UNAVAILABLE and not REQUIRED:
            item.add_marker(pytest.mark.skip(reason=f"BROWSER TEST SKIPPED: {UNAVAILABLE}"))
    _run.browser_tests = len(browser_items)
    _run.skipped = len(browser_items) if UNAVAILABLE and not REQUIRED else 0
    # Last, so that no other test runs while Playwright holds the main thread's event loop.
    chosen = set(map(id, browser_items))
    items[:] = [item for item in items if id(item) not in chosen] + browser_items
    if _run.skipped:
        bar = "!" * 78
        sys.stderr.write(f"\n{bar}\n!! BROWSER TESTS SKIPPED ({_run.skipped}): {UNAVAILABLE}\n{bar}\n")


def pytest_report_header(config):
    return f"browser:  {'Chromium ' + CHROMIUM if not UNAVAILABLE else 'NONE (' + UNAVAILABLE + ')'}"


def pytest_terminal_summary(terminalreporter):
    if _run.skipped:
        terminalreporter.write_sep("!", f"BROWSER TESTS SKIPPED: {_run.skipped} tests, {UNAVAILABLE}",
                                   red=True, bold=True)
    if _run.screenshots:
        terminalreporter.write_line(f"browser screenshots: {len(_run.screenshots)} in {SCREENSHOTS}/")


class ConsoleErrors(list):
    """Console errors and uncaught page errors of a test's pages, as strings."""

    enforced = False

    def watch(self, context) -> None:
        context.on("console", self._on_console)
        context.on("weberror", self._on_page_error)

    def _on_page_error(self, error) -> None:
        self.append(f"uncaught {error.error} on {error.page.url if error.page else '?'}")

    def _on_console(self, message) -> None:
        where = message.location or {}
        # Chromium fetches /favicon.ico on its own, whatever the page links; the portal has none.
        if message.type == "error" and not where.get("url", "").endswith("/favicon.ico"):
            self.append(f"console error on {message.page.url if message.page else '?'}: {message.text} "
                        f"({where.get('url', '')}:{where.get('lineNumber', '')})")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """A test that asked for ``console_errors`` fails, after its body, if its pages logged any."""
    errors = item.funcargs.get("console_errors")
    if not isinstance(errors, ConsoleErrors) or not errors.enforced:
        return (yield)
    try:
        result = yield
    except BaseException:
        if errors:
            item.add_report_section("call", "browser console", "\n".join(errors))
        raise
    from playwright.sync_api import Error as PlaywrightError

    for page in item.funcargs["_browser_pages"]:
        try:
            page.evaluate("0")  # a round trip, so that messages already logged have arrived
        except PlaywrightError:
            pass  # closed or crashed: nothing more will arrive from it
    assert not errors, "the pages logged errors:\n" + "\n".join(errors)
    return result


@pytest.fixture(scope="session")
def browser(django_db_setup):
    """Headless Debian Chromium for the whole session (the test database exists first and outlives it)."""
    if UNAVAILABLE:
        pytest.fail(f"PORTAL_TEST_REQUIRE_SERVICES=1 but {UNAVAILABLE}")  # otherwise skipped at collection
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()


@pytest.fixture
def _console():
    return ConsoleErrors()


@pytest.fixture
def _browser_pages():
    return []


@pytest.fixture
def new_page(browser, live_server, _console, _browser_pages):
    """``new_page()``: a page in a new browser context on the live server (own cookies)."""
    contexts = []

    def make():
        context = browser.new_context(base_url=live_server.url)
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        _console.watch(context)
        contexts.append(context)
        page = context.new_page()
        _browser_pages.append(page)
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture
def console_errors(_console, page):
    """Fails the test if any page of it logged a console error or an uncaught error."""
    _console.enforced = True
    return _console


def sign_in(page, username: str, password: str):
    """Fills the real login form; waits for the page the form leads to."""
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    return page


@pytest.fixture
def signed_in_page(new_page):
    """``signed_in_page(user)``: a new page (own context) signed in as ``user`` through /accounts/login/."""
    from tests.factories import PASSWORD

    def make(user, password: str = PASSWORD):
        page = sign_in(new_page(), user.get_username(), password)
        assert "/accounts/login/" not in page.url, f"signing in as {user.get_username()} failed: {page.url}"
        return page

    return make


def _file_name(text: str) -> str:
    return re.sub(r"[^\w.-]+", "_", text).strip("_")


@pytest.fixture(scope="session")
def _screenshot_folder():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("*.png"):  # the folder holds this run's screenshots only
        old.unlink(missing_ok=True)
    return SCREENSHOTS


@pytest.fixture
def screenshot(request, _screenshot_folder):
    """``screenshot(page, name)``: saves a full-page PNG named after the test and returns its path."""
    test = _file_name(f"{request.node.path.stem}.{request.node.name}")

    def take(page, name: str) -> Path:
        path = _screenshot_folder / f"{test}--{_file_name(name)}.png"
        page.screenshot(path=str(path), full_page=True)
        _run.screenshots.append(path)
        return path

    return take
