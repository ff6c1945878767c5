"""PostgreSQL crashes under a running portal (gunicorn as the Procfile starts it, on a PostgreSQL server of
the test's own holding a copy of the test database): what a browser, an API client, a WebDAV client and a
monitor see while it is down, and that the same requests work once it is back, with nothing restarted.
Nothing answers 500, no traceback is logged."""

from __future__ import annotations

import io
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.db import connection

from portal.accounts.services import token_issue
from portal.files.services.direct import file_put
from portal.spaces.services import space_create
from tests.factories import PASSWORD as ALICES_PASSWORD
from tests.support.coedit import free_port, server_env
from tests.support.private_postgres import private_postgres  # noqa: F401 - fixture

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 60


@pytest.fixture
def start_portal(tmp_path, private_postgres, private_redis):  # noqa: F811
    """Copies the test database (as the test left it) into the private server, then starts gunicorn on it."""
    started = []

    def start() -> tuple[str, Path]:
        private_postgres.copy_database(connection.settings_dict)
        port = free_port()
        line = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:"))
        command = shlex.split(line.removeprefix("web:").replace("${PORTAL_BIND:-127.0.0.1:8000}", f"127.0.0.1:{port}"))
        (tmp_path / "var" / "static").mkdir(parents=True)
        env = server_env(PORTAL_DATABASE_URL=private_postgres.url(), PORTAL_REDIS_URL=private_redis.url(),
                         PORTAL_STORAGE_ROOT=str(settings.STORAGE_ROOT), PORTAL_PUBLIC_URL=f"http://127.0.0.1:{port}",
                         PORTAL_VAR_DIR=str(tmp_path / "var"))
        log = tmp_path / "web.log"
        process = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), *command[1:]], cwd=ROOT, env=env,
                                   stdin=subprocess.DEVNULL, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                                   start_new_session=True)
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + DEADLINE
        while True:
            assert process.poll() is None, log.read_text(errors="replace")[-3000:]
            try:
                if requests.get(f"{url}/healthz", timeout=5).status_code == 200:
                    return url, log
            except requests.RequestException:  # not listening yet, or a worker still starting
                pass
            assert time.monotonic() < deadline, "gunicorn did not answer"
            time.sleep(0.2)

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(30)


def _signed_in(url: str) -> requests.Session:
    browser = requests.Session()
    page = browser.get(f"{url}/accounts/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    answer = browser.post(f"{url}/accounts/login/", data={"username": "alice", "password": ALICES_PASSWORD,
                                                          "csrfmiddlewaretoken": token},
                          headers={"Referer": f"{url}/accounts/login/"}, allow_redirects=False, timeout=30)
    assert answer.status_code == 302, answer.text[:500]
    return browser


def _requests(url: str, browser: requests.Session, api: requests.Session, dav: tuple[str, str], space_id: int,
              slug: str):
    """What each kind of client asks: the browser's home page, the API's list, a WebDAV listing, an upload."""
    return {
        "page": lambda: browser.get(f"{url}/", timeout=30),
        "api": lambda: api.get(f"{url}/api/v1/spaces/", timeout=30),
        "upload": lambda: api.post(f"{url}/api/v1/uploads", json={"space": space_id, "path": "later.txt", "size": 5}, timeout=30),
        "dav": lambda: requests.request("PROPFIND", f"{url}/dav/{slug}/", auth=dav, headers={"Depth": "1"},
                                        timeout=30),
    }


def test_a_database_crash_under_a_running_portal(alice, start_portal, private_postgres):  # noqa: F811
    team = space_create(actor=alice, name="Team")
    file_put(actor=alice, space_id=team.pk, path="/plan.txt", fileobj=io.BytesIO(b"the plan"), size=8)
    _, secret = token_issue(actor=alice, owner=alice, name="outage")
    url, log = start_portal()
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {secret}"
    asks = _requests(url, _signed_in(url), api, ("alice", secret), team.pk, team.slug)
    assert {name: ask().status_code for name, ask in asks.items()} == {"page": 200, "api": 200, "upload": 201,
                                                                        "dav": 207}

    private_postgres.crash()
    refused = {name: ask() for name, ask in asks.items()}
    assert {name: answer.status_code for name, answer in refused.items()} == dict.fromkeys(asks, 503)
    assert all(int(answer.headers["Retry-After"]) > 0 for answer in refused.values())
    page = refused["page"].text  # the signed-in user is read in a middleware: the page needs no database
    assert 'data-code="unavailable"' in page and "/static/coffer.css" in page and "Temporarily unavailable" in page
    assert refused["api"].json()["code"] == refused["upload"].json()["code"] == "unavailable"
    health = requests.get(f"{url}/healthz", timeout=30)
    assert health.status_code == 503 and health.json()["checks"]["database"] != "ok"
    assert health.json()["message"] == "Not answering: database."
    assert requests.get(f"{url}/healthz/live", timeout=30).status_code == 200  # what the balancer asks

    private_postgres.start()  # crash recovery; the portal's kept connections are dead and replaced
    assert {name: ask().status_code for name, ask in asks.items()} == {"page": 200, "api": 200, "upload": 201,
                                                                        "dav": 207}
    assert requests.get(f"{url}/healthz", timeout=30).status_code == 200
    written = log.read_text(errors="replace")
    assert "PostgreSQL is not answering" in written and "GET /api/v1/spaces/ answered 503" in written
    assert "Traceback" not in written and '" 500 ' not in written, written[-3000:]


def test_a_query_that_fails_on_a_live_server_is_not_an_outage(db):
    """A statement timeout is an OperationalError too, but the server answered: it stays a fault (500)."""
    from django.db import OperationalError, transaction

    from portal.core.outage import is_outage

    with pytest.raises(OperationalError) as timed_out, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 1")
        cursor.execute("SELECT pg_sleep(1)")
    assert timed_out.value.__cause__.sqlstate == "57014" and not is_outage(timed_out.value)
