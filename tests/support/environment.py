"""Chooses the services the suite runs on, before Django reads its settings.

PostgreSQL at ``PORTAL_TEST_DATABASE_URL`` and Redis at ``PORTAL_TEST_REDIS_URL``
are used when they answer; otherwise the suite says loudly that it fell back to
SQLite / no Redis, and tests marked ``postgres`` / ``redis`` are skipped with
that reason. Loaded with ``-p`` (see pytest.ini) so it runs first.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
from urllib.parse import urlparse

import pytest

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"


def _answers(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=2):
            return True
    except OSError:
        return False


DATABASE_URL = os.environ.get("PORTAL_TEST_DATABASE_URL", DEFAULT_DATABASE_URL)
REDIS_URL = os.environ.get("PORTAL_TEST_REDIS_URL", DEFAULT_REDIS_URL)
POSTGRES = _answers(DATABASE_URL, 5432)
REDIS = _answers(REDIS_URL, 6379)

_var = tempfile.mkdtemp(prefix="coffer-test-var-")
os.makedirs(os.path.join(_var, "static"))  # whitenoise expects STATIC_ROOT to exist
os.environ.update({
    "PORTAL_VAR_DIR": _var,
    "PORTAL_SECRET_KEY": "test-secret-key-" + "k" * 48,
    "PORTAL_MASTER_KEY": "test-master-key-" + "m" * 48,
    "PORTAL_DEBUG": "0",
    "PORTAL_STORAGE": "local",
})
os.environ.pop("PORTAL_S3_ENDPOINT", None)
if POSTGRES:
    # Django tests in "test_<name>"; a per-run name lets two suites (two
    # developers, or CI beside a developer) run at once without dropping
    # each other's database.
    _parsed = urlparse(DATABASE_URL)
    os.environ["PORTAL_DATABASE_URL"] = _parsed._replace(path=f"{_parsed.path}_{os.getpid()}").geturl()
else:
    os.environ.pop("PORTAL_DATABASE_URL", None)
if REDIS:
    os.environ["PORTAL_REDIS_URL"] = REDIS_URL
else:
    os.environ.pop("PORTAL_REDIS_URL", None)


def _banner() -> str:
    lines = [
        f"database: {'PostgreSQL ' + DATABASE_URL if POSTGRES else 'SQLite (PostgreSQL did not answer at ' + DATABASE_URL + ')'}",
        f"redis:    {REDIS_URL if REDIS else 'NONE (Redis did not answer at ' + REDIS_URL + ')'}",
    ]
    return "\n".join(lines)


def pytest_report_header(config):
    return _banner()


def pytest_configure(config):
    if os.environ.get("PORTAL_TEST_REQUIRE_SERVICES") == "1" and not (POSTGRES and REDIS):
        raise pytest.UsageError("PORTAL_TEST_REQUIRE_SERVICES=1 but not every service answers:\n" + _banner())
    if not (POSTGRES and REDIS):
        bar = "!" * 78
        sys.stderr.write(f"\n{bar}\n!! FALLBACK: tests needing the missing services are SKIPPED.\n{_banner()}\n{bar}\n")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "postgres" in item.keywords and not POSTGRES:
            item.add_marker(pytest.mark.skip(reason=f"PostgreSQL did not answer at {DATABASE_URL}"))
        if "redis" in item.keywords and not REDIS:
            item.add_marker(pytest.mark.skip(reason=f"Redis did not answer at {REDIS_URL}"))


def pytest_unconfigure(config):
    import shutil

    shutil.rmtree(_var, ignore_errors=True)
