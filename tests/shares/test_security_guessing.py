"""Guessing is atomic: parallel wrong passwords from one address cannot all
pass the throttle's check before any of them is counted. 80 real threads
against a live portal with as many server threads as production's gunicorn
(2 workers x 4 threads), on the suite's database and cache (PostgreSQL and
Redis in CI); and the embedded mode's file-locked path on its own.

The throttle's clock is frozen (the server runs in this process), so the
back-off never runs out during the burst: exactly the free answers may be
evaluated, and each evaluation leaves a ``share.password_failed`` event."""

from __future__ import annotations

import threading

import pytest
import requests
from cheroot import wsgi

from portal.audit.actions import Action
from portal.core.errors import Throttled
from portal.shares import throttle
from tests.dav.conftest import Finished, _tracked
from tests.helpers import events
from tests.shares.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)
ATTEMPTS = 80
NOW = 3600.0 * 480_000 + 5


@pytest.fixture
def portal_url(transactional_db):
    """The portal on a loopback port: 8 server threads, as `make run` has
    (2 workers x 4 threads), and a listen backlog that holds the whole burst."""
    from django.core.wsgi import get_wsgi_application

    server = wsgi.Server(("127.0.0.1", 0), _tracked(get_wsgi_application(), Finished()), numthreads=8,
                         request_queue_size=128, server_name="coffer-test", timeout=30, shutdown_timeout=5)
    server.prepare()
    host, port = server.bind_addr[:2]
    thread = threading.Thread(target=server.serve, name="guessing-test-server", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        thread.join(timeout=10)


def _in_parallel(count: int, work) -> list:
    start, results, lock = threading.Barrier(count), [], threading.Lock()

    def run(number: int) -> None:
        start.wait()
        outcome = work(number)
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run, args=(number,)) for number in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(results) == count
    return results


def test_eighty_parallel_wrong_passwords_from_one_address_get_only_the_free_evaluations(
        portal_url, monkeypatch, share, shared_file):
    monkeypatch.setattr(throttle, "_now", lambda: NOW)
    link = share(shared_file["id"], password=PASSWORD)
    page = f"{portal_url}/s/{link['token']}"
    opened = requests.get(page, timeout=30)
    assert opened.status_code == 200
    csrf = opened.cookies["csrftoken"]

    def guess(number: int) -> int:
        return requests.post(page, data={"password": f"wrong-{number}", "csrfmiddlewaretoken": csrf},
                             cookies={"csrftoken": csrf}, allow_redirects=False, timeout=60).status_code

    statuses = _in_parallel(ATTEMPTS, guess)
    assert statuses.count(403) == throttle.FREE_FAILURES, sorted(statuses)
    assert statuses.count(429) == ATTEMPTS - throttle.FREE_FAILURES
    assert len(events(Action.SHARE_PASSWORD_FAILED, target_id=str(link["id"]))) == throttle.FREE_FAILURES
    assert len(events(Action.SHARE_THROTTLED, target_id=str(link["id"]))) == ATTEMPTS - throttle.FREE_FAILURES


def test_without_redis_the_check_and_the_count_are_one_step_too(settings, tmp_path, monkeypatch):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                                   "LOCATION": str(tmp_path / "cache")}}
    settings.VAR_DIR = tmp_path
    monkeypatch.setattr(throttle, "_now", lambda: NOW)

    def reserve(number: int) -> bool:
        try:
            throttle.reserve(7, "192.0.2.80")
        except Throttled:
            return False
        return True

    admitted = _in_parallel(ATTEMPTS, reserve)
    assert admitted.count(True) == throttle.FREE_FAILURES
    throttle.succeeded(7, "192.0.2.80")  # a right answer clears the address
    throttle.reserve(7, "192.0.2.80")
