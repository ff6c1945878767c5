import socket

import pytest
from django.test import override_settings

from portal.celery import app as celery_app
from portal.storage import reset_store

pytestmark = pytest.mark.django_db


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def fresh_store():
    reset_store()
    yield
    reset_store()


def test_healthz_answers_200_when_database_storage_and_broker_answer(client, fresh_store):
    response = client.get("/healthz")
    assert response.status_code == 200, response.content
    assert response.json()["checks"] == {"database": "ok", "storage": "ok", "broker": "ok", "cache": "ok"}


def test_healthz_answers_503_naming_the_object_store_when_it_is_down(client, fresh_store):
    with override_settings(STORAGE_BACKEND="s3", S3_ENDPOINT=f"http://127.0.0.1:{closed_port()}",
                           S3_ACCESS_KEY="k", S3_SECRET_KEY="s"):
        reset_store()
        response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 503
    assert body["checks"]["storage"] != "ok" and body["checks"]["database"] == "ok"
    assert "storage" in body["message"]


def test_healthz_answers_503_naming_the_broker_when_it_is_down(client, fresh_store):
    original = celery_app.conf.broker_url
    celery_app.conf.broker_url = f"redis://127.0.0.1:{closed_port()}/0"
    try:
        response = client.get("/healthz")
    finally:
        celery_app.conf.broker_url = original
    assert response.status_code == 503
    assert response.json()["checks"]["broker"] != "ok"
    assert "broker" in response.json()["message"]


def test_healthz_needs_no_sign_in_and_refuses_writes(client):
    assert client.post("/healthz").status_code == 405


def test_healthz_live_answers_200_to_anyone_asking_no_service_and_refuses_writes(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        answer = client.get("/healthz/live")
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}
    assert client.post("/healthz/live").status_code == 405
