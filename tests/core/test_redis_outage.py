"""Redis stops: every request still gets a clear answer, and the guessing
limits hold (fail closed); Redis starts again: the same requests work, with
nothing restarted.

The cache (and the share-link limiter inside it) runs on a redis-server of
this module's own, which the tests kill and start again; the machine's Redis
(the task broker here) is never touched."""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings as django_settings
from django.test import Client

from portal.audit.actions import Action
from portal.notify import hooks
from tests.backups.conftest import enroll, store_root  # noqa: F401 - shared fixtures
from tests.backups.malicious import Builder, file_entry
from tests.factories import PASSWORD as ALICES_PASSWORD
from tests.files.conftest import signed_in, team, upload  # noqa: F401 - shared fixtures
from tests.helpers import events
from tests.shares.conftest import PASSWORD, share, shared_file, visitor  # noqa: F401
from tests.support.quick_hashes import QUICK_HASHERS
from tests.support.private_redis import PrivateRedis
from tests.support.wsgi_call import call, portal_app

pytestmark = pytest.mark.django_db
STYLED = b'<link rel="stylesheet" href="/static/coffer.css">'


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory):
    server = PrivateRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def redis(settings, private_redis):
    """The cache on the private Redis (running when the test starts), fast
    link-password hashes, and the webhook list read afresh."""
    settings.PASSWORD_HASHERS = QUICK_HASHERS
    settings.CACHES = {"default": {**django_settings.CACHES["default"], "LOCATION": private_redis.url(),
                                   "KEY_PREFIX": uuid.uuid4().hex}}
    hooks.forget_webhook_actions()
    yield private_redis
    if private_redis.process is None:
        private_redis.start()


def assert_unavailable_page(response) -> None:
    assert response.status_code == 503, response.content[:500]
    assert int(response["Retry-After"]) > 0
    assert response["Content-Type"].startswith("text/html")
    assert STYLED in response.content and b'data-code="unavailable"' in response.content
    assert b"Temporarily unavailable" in response.content


def test_a_link_password_while_redis_is_down_gets_a_styled_503_and_is_not_evaluated(redis, share, shared_file,
                                                                                      visitor):
    link = share(shared_file["id"], password=PASSWORD)
    page = f"/s/{link['token']}"
    browser = visitor()
    assert browser.get(page).status_code == 200
    redis.stop()

    assert_unavailable_page(browser.post(page, {"password": PASSWORD}))
    assert_unavailable_page(browser.post(page, {"password": "a wrong guess"}))
    assert not events(Action.SHARE_PASSWORD_FAILED) and not events(Action.SHARE_VIEWED)

    redis.start()
    assert browser.post(page, {"password": "a wrong guess"}).status_code == 403
    assert browser.post(page, {"password": PASSWORD}).status_code == 303
    assert browser.get(page).status_code == 200 and len(events(Action.SHARE_PASSWORD_FAILED)) == 1


def test_a_json_client_of_a_link_gets_503_in_the_api_error_shape(redis, share, shared_file, visitor):
    link = share(shared_file["id"], password=PASSWORD)
    redis.stop()
    answer = visitor().post(f"/s/{link['token']}", {"password": PASSWORD}, HTTP_ACCEPT="application/json")
    assert answer.status_code == 503 and int(answer["Retry-After"]) > 0
    assert answer.json()["code"] == "unavailable" and answer.json()["detail"] == {}
    assert "Try again" in answer.json()["message"]


def test_an_unknown_link_or_an_empty_form_answers_as_usual_while_redis_is_down(redis, share, shared_file, visitor):
    link = share(shared_file["id"], password=PASSWORD)
    redis.stop()
    assert visitor().post(f"/s/{link['token'][:-2]}xx", {"password": PASSWORD}).status_code == 404
    empty = visitor().post(f"/s/{link['token']}", {})
    assert empty.status_code == 400 and b"Send a password" in empty.content


def test_the_forgotten_password_form_is_503_while_its_counters_are_away(redis):
    redis.stop()
    assert_unavailable_page(Client().post("/accounts/password/reset/", {"email": "someone@example.com"}))
    redis.start()
    assert Client().post("/accounts/password/reset/", {"email": "someone@example.com"}).status_code == 302


def test_sign_in_keeps_working_and_keeps_its_limit_while_redis_is_down(redis, alice):
    """django-axes counts failures in PostgreSQL, so the limit holds without Redis."""
    redis.stop()
    browser = Client()
    answer = browser.post("/accounts/login/", {"username": "alice", "password": ALICES_PASSWORD},
                          REMOTE_ADDR="192.0.2.40")
    assert answer.status_code == 302 and browser.session.get("_auth_user_id") == str(alice.pk)
    for _ in range(django_settings.AXES_FAILURE_LIMIT):
        Client().post("/accounts/login/", {"username": "alice", "password": "a guess"}, REMOTE_ADDR="192.0.2.41")
    locked = Client().post("/accounts/login/", {"username": "alice", "password": ALICES_PASSWORD},
                           REMOTE_ADDR="192.0.2.41")
    assert locked.status_code == 429 and b"Too many failed sign-ins" in locked.content


def test_an_api_call_that_needs_redis_answers_503_json_and_works_once_it_is_back(redis, enroll, alice,
                                                                                  store_root):
    builder = Builder(enroll(alice))
    notes = builder.data(b"notes")
    root = builder.tree([file_entry("notes.txt", notes, 5)])
    builder.upload()
    snapshot = {"root": root, "started_at": "2026-01-01T10:00:00Z", "finished_at": "2026-01-01T10:01:00Z",
                "paths": ["/home/alice"], "hostname": "laptop"}
    redis.stop()
    refused = builder.device.post("/backup/snapshots", snapshot)
    assert refused.status_code == 503 and int(refused["Retry-After"]) > 0
    assert refused.json()["code"] == "unavailable" and set(refused.json()) == {"code", "message", "detail"}
    redis.start()
    assert builder.device.post("/backup/snapshots", snapshot).status_code == 201


def test_an_outsider_gets_401_not_503_from_the_api_while_redis_is_down(redis, enroll, alice, store_root):
    redis.stop()
    answer = Client().post("/api/v1/backup/snapshots", {}, content_type="application/json")
    assert answer.status_code == 401 and answer.json()["code"] == "not_authenticated"


def test_webdav_answers_503_with_retry_after_while_redis_is_down(redis, monkeypatch, alice, team):
    """A WebDAV request that needs Redis (here: the cache, read while listing)."""
    from django.core.cache import cache

    from portal.accounts.services import token_issue
    from portal.dav.provider import CofferProvider

    _, token = token_issue(actor=alice, owner=alice, name="webdav")
    app = portal_app(monkeypatch)
    listing = CofferProvider.get_resource_inst

    def needs_the_cache(self, path, environ):
        cache.get("dav-listing")
        return listing(self, path, environ)

    monkeypatch.setattr(CofferProvider, "get_resource_inst", needs_the_cache)
    assert call(app, "PROPFIND", f"/dav/{team.slug}/", auth=("alice", token), headers={"Depth": "1"}).status == 207
    redis.stop()
    refused = call(app, "PROPFIND", f"/dav/{team.slug}/", auth=("alice", token), headers={"Depth": "1"})
    assert refused.status == 503 and int(refused.headers["Retry-After"]) > 0
    redis.start()
    assert call(app, "PROPFIND", f"/dav/{team.slug}/", auth=("alice", token), headers={"Depth": "1"}).status == 207


def test_healthz_names_the_cache_while_redis_is_down(redis):
    redis.stop()
    answer = Client().get("/healthz")
    assert answer.status_code == 503 and answer.json()["checks"]["cache"] != "ok"
    redis.start()
    assert Client().get("/healthz").json()["checks"]["cache"] == "ok"
