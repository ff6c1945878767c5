from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from rest_framework.test import APIClient

from portal.backups.models import Device, EnrollmentToken
from tests.helpers import assert_error, last_event

pytestmark = pytest.mark.django_db


def _token(client, **body):
    return client.post("/api/v1/devices/enrollment-tokens", body, format="json")


def _enroll(token, **extra):
    body = {"token": token, "hostname": "host-1", "platform": "linux", **extra}
    return APIClient().post("/api/v1/backup/enroll", body, format="json")


def test_a_user_gets_a_one_time_token_and_the_command_to_paste(signed_in, alice):
    response = _token(signed_in(alice), name="Work laptop")
    assert response.status_code == 201
    body = response.json()
    assert body["token"].startswith("cofferenr_")
    assert body["command"] == f"coffer-agent enroll --server http://127.0.0.1:8000 --token {body['token']}"
    assert last_event("device.enrollment_token_created").actor == alice


def test_an_anonymous_caller_cannot_make_enrollment_tokens():
    assert_error(_token(APIClient()), 401, "not_authenticated")


def test_an_enrollment_token_with_a_bad_name_is_refused(signed_in, alice):
    assert_error(_token(signed_in(alice), name=42), 400, "invalid_input")
    assert_error(_token(signed_in(alice), color="red"), 400, "invalid_input")


def test_enrolling_makes_a_device_with_keys_and_a_device_token(signed_in, alice):
    token = _token(signed_in(alice), name="Work laptop").json()["token"]
    response = _enroll(token)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["device_token"].startswith("cofferdev_")
    assert set(body["keys"]) == {"id_key", "data_key"}
    assert body["pack_size"] == 16 * 1024 * 1024
    device = Device.objects.get(pk=body["device_id"])
    assert (device.user, device.name, device.hostname, device.platform) == (alice, "Work laptop", "host-1", "linux")
    assert last_event("device.enrolled").target_id == str(device.pk)


def test_devices_of_one_user_share_a_key_set_and_other_users_get_their_own(enroll, alice, bob):
    laptop, desktop, bobs = enroll(alice), enroll(alice, name="desktop"), enroll(bob)
    assert laptop.enrolled["keys"] == desktop.enrolled["keys"]
    assert laptop.enrolled["key_set"] == desktop.enrolled["key_set"]
    assert bobs.enrolled["keys"]["id_key"] != laptop.enrolled["keys"]["id_key"]
    assert bobs.enrolled["keys"]["data_key"] != laptop.enrolled["keys"]["data_key"]
    assert bobs.enrolled["key_set"] != laptop.enrolled["key_set"]


def test_an_enrollment_token_works_once(signed_in, alice):
    token = _token(signed_in(alice)).json()["token"]
    assert _enroll(token).status_code == 201
    assert_error(_enroll(token), 400, "enrollment_token_used")
    assert Device.objects.count() == 1
    assert last_event("device.enrolled", outcome="denied").details == {"reason": "enrollment_token_used"}


def test_an_expired_enrollment_token_is_refused(signed_in, alice):
    token = _token(signed_in(alice)).json()["token"]
    EnrollmentToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_error(_enroll(token), 400, "enrollment_token_expired")


def test_a_wrong_or_malformed_enrollment_token_is_refused(signed_in, alice):
    token = _token(signed_in(alice)).json()["token"]
    assert_error(_enroll(token[:-1] + ("A" if token[-1] != "A" else "B")), 400, "enrollment_token_invalid")
    assert_error(_enroll("nonsense"), 400, "enrollment_token_invalid")
    assert_error(_enroll(token, extra="x"), 400, "invalid_input")
    assert_error(APIClient().post("/api/v1/backup/enroll", {"token": token}, format="json"), 400, "invalid_input")
    assert _enroll(token).status_code == 201  # refusals did not use it up


def test_the_device_reads_itself_and_is_seen(enroll, alice):
    device = enroll(alice)
    Device.objects.filter(pk=device.id).update(last_seen_at=None)
    response = device.get("/backup/device")
    assert response.status_code == 200
    assert response.json() == {"device_id": device.id, "name": "laptop", "state": "active", "excludes": [],
                               "key_set": device.enrolled["key_set"]}
    assert Device.objects.get(pk=device.id).last_seen_at is not None


DEVICE_ENDPOINTS = [
    ("get", "/backup/device"), ("post", "/backup/chunks/known"), ("post", "/backup/chunks/locate"),
    ("post", "/backup/packs"), ("post", "/backup/packs/" + "0" * 32 + "/index"), ("get", "/backup/snapshots"),
    ("post", "/backup/snapshots"), ("post", "/backup/reports"),
]


@pytest.mark.parametrize(("method", "path"), DEVICE_ENDPOINTS)
def test_a_revoked_device_can_do_nothing(enroll, signed_in, alice, method, path):
    device = enroll(alice)
    assert signed_in(alice).delete(f"/api/v1/devices/{device.id}").status_code == 200
    assert_error(getattr(device, method)(path), 401, "device_revoked")


@pytest.mark.parametrize(("method", "path"), DEVICE_ENDPOINTS)
def test_device_endpoints_refuse_users_and_strangers(signed_in, alice, method, path):
    assert getattr(signed_in(alice), method)(f"/api/v1{path}", {}, format="json").status_code in (401, 403)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer cofferdev_0123456789abcdef_" + "x" * 43)
    assert_error(getattr(client, method)(f"/api/v1{path}", {}, format="json"), 401, "not_authenticated")


def test_a_disabled_users_device_is_refused(enroll, alice):
    device = enroll(alice)
    alice.is_active = False
    alice.save()
    assert_error(device.get("/backup/device"), 401, "not_authenticated")


def test_device_token_command_prints_a_token_and_the_command(alice, capsys):
    call_command("device_token", "ALICE", "--name", "Desk")
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("cofferenr_")
    assert "coffer-agent enroll" in out[-1] and out[0] in out[-1]
    assert EnrollmentToken.objects.get(user=alice).name == "Desk"
    assert _enroll(out[0]).status_code == 201


def test_device_token_command_refuses_an_unknown_user(db):
    with pytest.raises(CommandError, match="No active user"):
        call_command("device_token", "nobody")


def test_device_token_command_needs_a_username(db):
    with pytest.raises(CommandError):
        call_command("device_token")
