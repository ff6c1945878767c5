"""Tokens stay out of logs: gunicorn started from the Procfile's web line (as
`make run` starts it) serves a share link, a signed storage URL, a presigned
style query and a 404 under a token; neither its access log nor Django's
request log (the same output) shows a secret. The selector of a share token
may stay: it names the link, and cannot open it."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import requests
from django.db import connection

from portal.storage import get_store
from portal.shares.models import ShareLink
from tests.files.support_s3 import closed_port, use_local
from tests.support.procfile_web import ProcfileWeb

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgresql://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


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
    env = {key: value for key, value in os.environ.items() if not key.startswith("PORTAL_")}
    env.update({"PORTAL_DATABASE_URL": _database_url(), "PORTAL_SECRET_KEY": os.environ["PORTAL_SECRET_KEY"],
                "PORTAL_MASTER_KEY": os.environ["PORTAL_MASTER_KEY"], "PORTAL_VAR_DIR": str(var),
                "PORTAL_STORAGE_ROOT": str(store_root), "PORTAL_DEBUG": "0"})
    port = closed_port()
    env["PORTAL_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    web = ProcfileWeb(tmp_path / "web.log", env, port=port)
    try:
        web.wait_ready()
        yield Live(url=web.url, stop=web.stop, process=web.process)
    finally:
        web.kill()


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
