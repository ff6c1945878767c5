"""Logs an operator can use: every 500 (Django's and WebDAV's) leaves one
record with its whole traceback; every line starts with a UTC timestamp, or
is one JSON object with PORTAL_LOG_FORMAT=json; gunicorn writes the same
format as Django; two portals on one host keep their own control sockets;
/favicon.ico answers."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from django.test import Client

from portal.core.logs import RedactingFilter, formatter
from tests.factories import UserFactory
from tests.support.procfile_web import ProcfileWeb
from tests.support.wsgi_call import call, portal_app

ROOT = Path(__file__).resolve().parents[2]
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR|CRITICAL) \d+ [\w.]+: ")


@pytest.fixture
def portal_log():
    """What the portal's configured log handler (settings.LOGGING's) writes, read back."""
    import logging

    handlers = [h for h in logging.getLogger().handlers if any(isinstance(f, RedactingFilter) for f in h.filters)]
    assert handlers, "settings.LOGGING's console handler is not on the root logger"
    buffer = io.StringIO()
    saved = [(handler.setStream(buffer), handler.formatter) for handler in handlers]
    yield buffer
    for handler, (stream, kept) in zip(handlers, saved):
        handler.setStream(stream)
        handler.setFormatter(kept)


def _broken(*args, **kwargs):
    raise RuntimeError("the disk said no")


def test_a_500_in_a_page_is_logged_with_its_traceback_under_a_timestamp(db, monkeypatch, portal_log):
    monkeypatch.setattr("portal.web.views.space_list", _broken)
    browser = Client(raise_request_exception=False)
    browser.force_login(UserFactory(username="carol"))
    page = browser.get("/")
    assert page.status_code == 500 and b"Something went wrong" in page.content
    assert b'href="/static/coffer.css"' in page.content  # the portal's look, though nothing else could run
    lines = portal_log.getvalue().splitlines()
    first = next(i for i, line in enumerate(lines) if "Internal Server Error: /" in line)
    assert STAMP.match(lines[first]) and " ERROR " in lines[first]
    below = "\n".join(lines[first + 1:])
    assert "Traceback (most recent call last)" in below and "RuntimeError: the disk said no" in below
    assert "_broken" in below  # the frame that raised


@pytest.fixture
def wsgi_app(monkeypatch):
    """Built before ``portal_log``: building it sets Django up again, which replaces the log handlers."""
    return portal_app(monkeypatch)


def test_a_500_in_webdav_is_logged_once_with_its_traceback(db, wsgi_app, monkeypatch, portal_log, alice):
    from portal.accounts.services import token_issue
    from portal.dav.provider import CofferProvider
    from portal.spaces.services import space_create

    space = space_create(actor=alice, name="Team")
    _, token = token_issue(actor=alice, owner=alice, name="webdav")
    monkeypatch.setattr(CofferProvider, "get_resource_inst", _broken)
    answer = call(wsgi_app, "PROPFIND", f"/dav/{space.slug}/", auth=("alice", token),
                  headers={"Depth": "0"})
    assert answer.status == 500
    log = portal_log.getvalue()
    headline = [line for line in log.splitlines() if f"WebDAV PROPFIND /dav/{space.slug}/ failed" in line]
    assert len(headline) == 1 and STAMP.match(headline[0]), log
    assert "Traceback (most recent call last)" in log and "RuntimeError: the disk said no" in log
    assert log.count("RuntimeError: the disk said no") == 1, log  # wsgidav's own copies are dropped


def test_json_lines_parse_one_by_one_and_carry_the_traceback(db, monkeypatch, portal_log):
    import logging

    for handler in logging.getLogger().handlers:
        if any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.setFormatter(formatter("json"))
    monkeypatch.setattr("portal.web.views.space_list", _broken)
    browser = Client(raise_request_exception=False)
    browser.force_login(UserFactory(username="dave"))
    assert browser.get("/").status_code == 500
    assert Client().get("/s/0123456789abcdefSECRETSECRETSECRETSECRET/x").status_code == 404
    records = [json.loads(line) for line in portal_log.getvalue().splitlines()]
    failed = next(r for r in records if r["message"] == "Internal Server Error: /")
    assert failed["level"] == "ERROR" and failed["logger"] == "django.request"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", failed["time"])
    assert "RuntimeError: the disk said no" in failed["traceback"]
    missing = next(r for r in records if r["message"].startswith("Not Found: /s/"))
    assert "SECRET" not in missing["message"] and "[redacted]" in missing["message"]


# --- gunicorn, as the Procfile starts it ------------------------------------------------------

class Instance(ProcfileWeb):
    def __init__(self, folder: Path, log_format: str):
        self.var = folder / "var"
        (self.var / "static").mkdir(parents=True)
        env = {key: value for key, value in os.environ.items() if not key.startswith(("PORTAL_", "XDG_"))}
        env.update({"PORTAL_SECRET_KEY": os.environ["PORTAL_SECRET_KEY"], "PORTAL_VAR_DIR": str(self.var),
                    "PORTAL_MASTER_KEY": os.environ["PORTAL_MASTER_KEY"], "PORTAL_DEBUG": "0",
                    "PORTAL_LOG_FORMAT": log_format, "HOME": str(folder)})
        super().__init__(folder / "web.log", env, ready_path="/favicon.ico")

    def control(self, command: str) -> dict:
        answer = subprocess.run([str(Path(sys.executable).parent / "gunicornc"), "-s", str(self.var / "gunicorn.ctl"),
                                 "-c", command, "-j"], capture_output=True, text=True, timeout=30)
        assert answer.returncode == 0, answer.stderr
        return json.loads(answer.stdout)


@pytest.fixture
def two_portals(tmp_path):
    portals = [Instance(tmp_path / "a", "text"), Instance(tmp_path / "b", "json")]
    try:
        for portal in portals:
            portal.wait_ready()
        yield portals
    finally:
        for portal in portals:
            portal.kill()


def test_two_portals_on_one_host_each_keep_their_control_socket_and_log_one_format(two_portals):
    text, jsonl = two_portals
    for portal in two_portals:
        assert portal.control("show stats")["pid"] == portal.process.pid  # its own socket, not the other's
        favicon = requests.get(f"{portal.url}/favicon.ico", timeout=10)
        assert favicon.headers["Content-Type"] == "image/x-icon" and favicon.content[:4] == b"\0\0\1\0"
        assert requests.get(f"{portal.url}/nothing-here", timeout=10).status_code == 404
        portal.stop()
    text_lines = text.log().splitlines()
    assert any("gunicorn.access" in line and '"GET /favicon.ico HTTP/1.1" 200' in line for line in text_lines)
    assert any("django.request: Not Found: /nothing-here" in line for line in text_lines)
    for line in text_lines:
        assert STAMP.match(line), f"a line without a timestamp: {line!r}\n{text.log()[-3000:]}"
    records = [json.loads(line) for line in jsonl.log().splitlines()]  # every line is one JSON object
    assert {"gunicorn.error", "gunicorn.access", "django.request"} <= {r["logger"] for r in records}
    assert all(re.match(r"^\d{4}-\d\d-\d\dT", r["time"]) for r in records)


def test_the_favicon_is_served_and_linked_from_every_page(db):
    icon = Client().get("/favicon.ico")
    assert icon.status_code == 200 and icon["Content-Type"] == "image/x-icon"
    page = Client().get("/accounts/login/").content.decode()
    assert '<link rel="icon" href="/static/favicon.ico"' in page and 'href="/static/favicon.svg"' in page


def test_celery_logs_in_the_portals_format_with_tokens_redacted(tmp_path):
    """What the worker and beat do at start (Celery's logging set-up), then a task's line."""
    script = ("import logging\n"
              "from portal.celery import app\n"
              "app.log.setup_logging_subsystem(loglevel='INFO')\n"
              "logging.getLogger('celery.app.trace').info('Task for /s/0123456789abcdefSECRETSECRETSECRET done')\n")
    env = {**os.environ, "PORTAL_VAR_DIR": str(tmp_path), "PORTAL_LOG_FORMAT": "json"}
    ran = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=60)
    assert ran.returncode == 0, ran.stderr
    record = json.loads(ran.stderr.strip().splitlines()[-1])
    assert record["logger"] == "celery.app.trace" and record["level"] == "INFO"
    assert record["message"] == "Task for /s/0123456789abcdef[redacted] done"
