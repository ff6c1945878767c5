"""Redis, broker and cache at once, stops under a running portal (gunicorn as
the Procfile starts it, on a private redis-server): what a visitor, a user and
an API client see while it is down, and that the same requests work once it
is back, with nothing restarted. Nothing answers 500, no traceback is logged."""

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

from portal.accounts.services import token_issue
from portal.files.services.direct import file_put
from portal.spaces.services import space_create
from tests.factories import PASSWORD as ALICES_PASSWORD
from tests.support.coedit import free_port, server_env

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
LINK_PASSWORD = "an outage is no excuse"
DEADLINE = 60


@pytest.fixture
def portal(tmp_path, private_redis):
    port = free_port()
    line = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:"))
    command = shlex.split(line.removeprefix("web:").replace("${PORTAL_BIND:-127.0.0.1:8000}", f"127.0.0.1:{port}"))
    (tmp_path / "var" / "static").mkdir(parents=True)
    env = server_env(PORTAL_REDIS_URL=private_redis.url(), PORTAL_STORAGE_ROOT=str(settings.STORAGE_ROOT),
                     PORTAL_PUBLIC_URL=f"http://127.0.0.1:{port}", PORTAL_VAR_DIR=str(tmp_path / "var"))
    log = tmp_path / "web.log"
    process = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), *command[1:]], cwd=ROOT, env=env,
                               stdin=subprocess.DEVNULL, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                               start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + DEADLINE
        while True:
            assert process.poll() is None, log.read_text(errors="replace")[-3000:]
            try:
                if requests.get(f"{url}/favicon.ico", timeout=5).status_code == 200:
                    break
            except requests.RequestException:  # not listening yet, or a worker still starting
                pass
            assert time.monotonic() < deadline, "gunicorn did not answer"
            time.sleep(0.2)
        yield url, log
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(30)


def _csrf(session: requests.Session, page: str) -> str:
    answer = session.get(page, timeout=30)
    assert answer.status_code == 200, answer.text[:500]
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', answer.text).group(1)


def _sign_in(url: str) -> requests.Response:
    browser = requests.Session()
    token = _csrf(browser, f"{url}/accounts/login/")
    return browser.post(f"{url}/accounts/login/", data={"username": "alice", "password": ALICES_PASSWORD,
                                                        "csrfmiddlewaretoken": token},
                        headers={"Referer": f"{url}/accounts/login/"}, allow_redirects=False, timeout=30)


def _unlock(url: str, page: str, password: str) -> requests.Response:
    visitor = requests.Session()
    token = _csrf(visitor, page)
    return visitor.post(page, data={"password": password, "csrfmiddlewaretoken": token}, allow_redirects=False,
                        timeout=30)


def test_a_redis_outage_under_a_running_portal(alice, private_redis, portal):
    url, log = portal
    team = space_create(actor=alice, name="Team")
    version = file_put(actor=alice, space_id=team.pk, path="/plan.txt", fileobj=io.BytesIO(b"the plan"), size=8)
    _, secret = token_issue(actor=alice, owner=alice, name="outage")
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {secret}"
    link = api.post(f"{url}/api/v1/shares", json={"node": version.node_id, "permission": "download",
                                                   "password": LINK_PASSWORD}, timeout=30)
    assert link.status_code == 201, link.text
    page = f"{url}/s/{link.json()['token']}"

    private_redis.stop()
    refused = _unlock(url, page, LINK_PASSWORD)  # the form shows; the answer cannot be checked
    assert refused.status_code == 503 and int(refused.headers["Retry-After"]) > 0
    assert "Temporarily unavailable" in refused.text and "/static/coffer.css" in refused.text
    signed_in = _sign_in(url)
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/", signed_in.text[:500]
    assert requests.get(f"{url}/healthz", timeout=30).status_code == 503

    private_redis.start()
    assert _unlock(url, page, LINK_PASSWORD).status_code == 303
    assert _sign_in(url).status_code == 302
    assert requests.get(f"{url}/healthz", timeout=30).status_code == 200
    written = log.read_text(errors="replace")
    assert "Redis is not answering" in written and "answered 503" in written
    assert "Traceback" not in written and '" 500 ' not in written, written[-3000:]
