"""Tokens stay out of logs: gunicorn started from the Procfile's web line (as
`make run` starts it) serves a share link, a signed storage URL, a presigned
style query and a 404 under a token; neither its access log nor Django's
request log (the same output) shows a secret. The selector of a share token
may stay: it names the link, and cannot open it."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from django.db import connection

from portal.storage import get_store
from portal.shares.models import ShareLink
from tests.files.support_s3 import closed_port, use_local

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
READY_DEADLINE = 30


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgresql://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _web_command(port: int) -> list[str]:
    """The Procfile's web process, bound to ``port``, with this venv's gunicorn."""
    line = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:"))
    command = shlex.split(line.removeprefix("web:").replace("${PORTAL_BIND:-127.0.0.1:8000}", f"127.0.0.1:{port}"))
    assert command[0] == "gunicorn"
    return [str(Path(sys.executable).parent / "gunicorn"), *command[1:]]


@dataclass(frozen=True)
class Live:
    url: str
    stop: Callable[[], str]     # stops the portal (logs flushed) and returns its log
    process: subprocess.Popen   # gunicorn's master, leader of its own process group


@pytest.fixture
def gunicorn(tmp_path, settings):
    """A running portal (the Procfile's gunicorn) on the test database."""
    store_root = tmp_path / "store"
    use_local(settings, store_root)
    var = tmp_path / "var"
    (var / "static").mkdir(parents=True)
    port = closed_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("PORTAL_")}
    env.update({"PORTAL_DATABASE_URL": _database_url(), "PORTAL_SECRET_KEY": os.environ["PORTAL_SECRET_KEY"],
                "PORTAL_MASTER_KEY": os.environ["PORTAL_MASTER_KEY"], "PORTAL_VAR_DIR": str(var),
                "PORTAL_STORAGE_ROOT": str(store_root), "PORTAL_PUBLIC_URL": f"http://127.0.0.1:{port}",
                "PORTAL_DEBUG": "0"})
    log_path = tmp_path / "web.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(_web_command(port), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"

    def stop() -> str:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        return log_path.read_text(errors="replace")

    try:
        deadline = time.monotonic() + READY_DEADLINE
        while True:
            assert process.poll() is None, f"gunicorn exited:\n{log_path.read_text(errors='replace')[-3000:]}"
            try:
                if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "the portal did not start"
            time.sleep(0.1)
        yield Live(url=url, stop=stop, process=process)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def test_the_access_log_and_djangos_log_show_no_link_or_storage_token(gunicorn, share, shared_file):
    url, stop = gunicorn.url, gunicorn.stop
    link = share(shared_file["id"])
    token = link["token"]
    selector, secret = token[:16], token[16:]
    page = requests.get(f"{url}/s/{token}", headers={"Referer": f"{url}/s/{token}/f/x"}, timeout=30)
    assert page.status_code == 200
    download = requests.get(f"{url}/s/{token}/download", timeout=30)
    assert download.status_code == 200 and download.content
    missing = requests.get(f"{url}/s/{token[:-1]}Q/download", timeout=30)  # Django logs "Not Found: <path>"
    assert missing.status_code == 404
    key = ShareLink.objects.get(pk=link["id"]).node.current_version.blob.key
    signed = get_store().presign_get(key, filename="q3.txt")
    storage_token = signed.rsplit("/", 1)[1]
    assert requests.get(f"{url}/storage/o/{storage_token}", timeout=30).status_code == 200
    assert requests.get(f"{url}/storage/o/{storage_token}x", timeout=30).status_code >= 400
    login = requests.get(f"{url}/accounts/login/", params={"next": f"/s/{token}"}, timeout=30)
    assert "%2Fs%2F" in login.request.url and login.status_code == 200
    signature = "c0ffee" * 10
    requests.get(f"{url}/healthz?X-Amz-Credential=AKIDSECRET&X-Amz-Signature={signature}", timeout=30)

    log = stop()
    assert f"/s/{selector}[redacted]" in log, log[-3000:]  # the lines were written, redacted
    assert "Not Found: /s/" in log and "/storage/o/[redacted]" in log
    for leaked in (secret, secret[:-1], storage_token, storage_token[:40], signature, "AKIDSECRET"):
        assert leaked not in log, f"{leaked!r} is in the log:\n{log[-3000:]}"


def test_redact_keeps_a_selector_and_removes_every_secret_it_knows():
    from portal.core.logs import redact

    line = ('"GET /s/0123456789abcdefSECRETsecretSECRETsecretSECRET12/download?x=1 HTTP/1.1" '
            '"https://coffer.example/s/0123456789abcdefSECRETsecretSECRETsecretSECRET12" '
            "https://s3.example/b/k?X-Amz-Algorithm=AWS4&X-Amz-Credential=AKID%2F2026&X-Amz-Signature=abc123 "
            "PUT /storage/part/eyJrIjoiYSJ9.c2ln?partNumber=1 "
            "GET /accounts/login/?next=%2Fs%2F0123456789abcdefSECRETsecretSECRETsecretSECRET12%2Ff%2Fx")
    cleaned = redact(line)
    assert "SECRET" not in cleaned and "AKID" not in cleaned and "abc123" not in cleaned and "eyJr" not in cleaned
    assert cleaned.count("/s/0123456789abcdef[redacted]") == 2 and "%2Fs%2F0123456789abcdef[redacted]" in cleaned
    assert "/storage/part/[redacted]?partNumber=1" in cleaned and "X-Amz-Algorithm=AWS4" in cleaned
