"""Closed uploads leave nothing in the store, even when the store was down
when they closed: a private SeaweedFS is stopped mid-operation, and once it
is back the upload sweep leaves no unfinished multipart upload, no staged
part (SeaweedFS's ``.uploads/``) and no object in the bucket. Also the
bucket rules ``manage.py storage_init`` sets (CORS, stale multipart lifecycle)."""

from __future__ import annotations

import io
import json
import os
import shlex
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from portal.files import tasks
from portal.files.models import UploadSession, UploadState
from portal.files.services import maintenance
from portal.storage import bucket_rules
from tests.files.support_s3 import MiB, chunk, put_part, use_s3
from tests.helpers import assert_error
from tests.support.seaweed import private_seaweed

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def weed():
    """A SeaweedFS of this module's own, which its tests stop and start again."""
    with private_seaweed() as server:
        yield server


@pytest.fixture
def store(settings, weed):
    if weed.process is None:  # a test that failed mid-outage left it stopped
        weed.start()
    settings.UPLOAD_PART_SIZE = 5 * MiB
    return use_s3(settings, weed)


@pytest.fixture
def client(api, alice):
    return api.as_user(alice)


def left_in_bucket(weed, store) -> dict:
    s3 = weed.client()
    return {"uploads": s3.list_multipart_uploads(Bucket=store.bucket).get("Uploads", []),
            "staged": weed.staged_parts(store.bucket),
            "objects": s3.list_objects_v2(Bucket=store.bucket).get("Contents", [])}


EMPTY = {"uploads": [], "staged": [], "objects": []}


def started_with_two_parts(client, team, path: str) -> tuple[dict, bytes]:
    """An upload of three parts with the first two in the store."""
    data = os.urandom(10 * MiB + 777)
    started = client.post("/api/v1/uploads", {"space": team.id, "path": path, "size": len(data)}, format="json")
    assert started.status_code == 201, started.content
    upload = started.json()
    for part in upload["parts"][:2]:
        put_part(part["url"], chunk(data, part, upload["part_size"]))
    return upload, data


def test_an_upload_aborted_while_the_store_is_down_is_cleaned_by_the_sweep_once_it_is_back(
        client, team, weed, store):
    upload, _ = started_with_two_parts(client, team, "/aborted-in-outage.bin")
    assert len(left_in_bucket(weed, store)["staged"]) == 1

    weed.stop()
    assert client.delete(f"/api/v1/uploads/{upload['id']}").status_code == 204  # recorded; the store later
    session = UploadSession.objects.get(pk=upload["id"])
    assert (session.state, session.store_released_at) == (UploadState.ABORTED, None)
    assert maintenance.uploads_sweep()["released"] == 0  # still down: kept for the next run
    weed.start()

    assert left_in_bucket(weed, store)["uploads"], "the parts outlived the abort (what the sweep is for)"
    assert tasks.sweep_uploads() == {"aborted": 0, "orphaned": 0, "expired": 0, "released": 1}
    assert left_in_bucket(weed, store) == EMPTY
    assert UploadSession.objects.get(pk=upload["id"]).store_released_at is not None
    assert_error(client.post(f"/api/v1/uploads/{upload['id']}/complete"), 409, "upload_closed")
    assert tasks.sweep_uploads()["released"] == 0, "released once"


def test_an_upload_expiring_while_the_store_is_down_is_cleaned_once_it_is_back(client, team, weed, store):
    upload, _ = started_with_two_parts(client, team, "/expired-in-outage.bin")
    UploadSession.objects.filter(pk=upload["id"]).update(expires_at=timezone.now() - timedelta(minutes=1))

    weed.stop()
    assert maintenance.uploads_sweep() == {"aborted": 0, "orphaned": 0, "expired": 0, "released": 0}
    assert UploadSession.objects.get(pk=upload["id"]).state == UploadState.OPEN  # not forgotten
    weed.start()

    assert maintenance.uploads_sweep() == {"aborted": 1, "orphaned": 0, "expired": 0, "released": 0}
    session = UploadSession.objects.get(pk=upload["id"])
    assert session.state == UploadState.EXPIRED and session.store_released_at is not None
    assert left_in_bucket(weed, store) == EMPTY


def test_an_abort_with_the_store_up_releases_at_once_and_another_users_abort_is_not_found(
        client, team, weed, store, signed_in, bob):
    upload, _ = started_with_two_parts(client, team, "/aborted.bin")
    assert_error(signed_in(bob).delete(f"/api/v1/uploads/{upload['id']}"), 404, "not_found")
    assert_error(client.delete("/api/v1/uploads/not-a-uuid"), 404, "not_found")
    assert left_in_bucket(weed, store)["uploads"], "an outsider's abort changed nothing"

    assert client.delete(f"/api/v1/uploads/{upload['id']}").status_code == 204
    assert UploadSession.objects.get(pk=upload["id"]).store_released_at is not None
    assert left_in_bucket(weed, store) == EMPTY


def test_the_orphan_sweep_aborts_old_unfinished_uploads_no_live_session_owns_and_keeps_live_ones(
        client, team, weed, store):
    live, data = started_with_two_parts(client, team, "/live.bin")
    stray = weed.client().create_multipart_upload(Bucket=store.bucket, Key="blobs/00/killed-put")
    weed.client().upload_part(Bucket=store.bucket, Key="blobs/00/killed-put", UploadId=stray["UploadId"],
                              PartNumber=1, Body=b"x" * 1000)

    later = timezone.now() + timedelta(hours=48)  # both are past the grace period by then
    assert maintenance.orphans_sweep(now=later) == 1
    assert [u["UploadId"] for u in left_in_bucket(weed, store)["uploads"]] == [
        UploadSession.objects.get(pk=live["id"]).multipart_id]
    resumed = client.get(f"/api/v1/uploads/{live['id']}").json()
    assert resumed["received"] == [1, 2]
    put_part(resumed["parts"][0]["url"], chunk(data, resumed["parts"][0], live["part_size"]))
    assert client.post(f"/api/v1/uploads/{live['id']}/complete").status_code == 201


def test_storage_init_sets_the_cors_and_lifecycle_rules_and_keeps_the_buckets_other_rules(
        settings, weed, store):
    settings.PUBLIC_URL = "https://files.example.com"
    s3 = weed.client()
    other = {"ID": "someone-elses", "Status": "Enabled", "Filter": {"Prefix": "exports/"}, "Expiration": {"Days": 30}}
    s3.put_bucket_lifecycle_configuration(Bucket=store.bucket, LifecycleConfiguration={"Rules": [other]})
    out = io.StringIO()

    call_command("storage_init", stdout=out)
    call_command("storage_init", stdout=out)  # twice: the same rules, not two of each

    assert "CORS rule for browser uploads from https://files.example.com: set." in out.getvalue()
    cors = s3.get_bucket_cors(Bucket=store.bucket)["CORSRules"]
    assert len(cors) == 1 and cors[0]["AllowedOrigins"] == ["https://files.example.com"]
    assert set(cors[0]["AllowedMethods"]) == {"GET", "HEAD", "PUT"} and cors[0]["ExposeHeaders"] == ["ETag"]
    rules = {rule["ID"]: rule for rule in s3.get_bucket_lifecycle_configuration(Bucket=store.bucket)["Rules"]}
    assert set(rules) == {"someone-elses", bucket_rules.LIFECYCLE_RULE_ID}
    assert rules[bucket_rules.LIFECYCLE_RULE_ID]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 2}
    assert rules[bucket_rules.LIFECYCLE_RULE_ID]["Filter"] == {"Prefix": "blobs/"}


def test_the_printed_aws_cli_commands_carry_the_rules_a_store_accepts(settings, weed, store):
    """Where a store's API refuses, storage_init prints these: their JSON is what the store takes."""
    settings.UPLOAD_SESSION_HOURS = 72
    cors = shlex.split(bucket_rules.cors_command(weed.endpoint_url, store.bucket))
    lifecycle = shlex.split(bucket_rules.lifecycle_command(None, "coffer"))
    assert cors[:5] == ["aws", "--endpoint-url", weed.endpoint_url, "s3api", "put-bucket-cors"]
    assert lifecycle[:4] == ["aws", "s3api", "put-bucket-lifecycle-configuration", "--bucket"]
    s3 = weed.client()
    s3.put_bucket_cors(Bucket=store.bucket, CORSConfiguration=json.loads(cors[cors.index("--cors-configuration") + 1]))
    s3.put_bucket_lifecycle_configuration(
        Bucket=store.bucket, LifecycleConfiguration=json.loads(lifecycle[lifecycle.index("--lifecycle-configuration") + 1]))
    [rule] = s3.get_bucket_lifecycle_configuration(Bucket=store.bucket)["Rules"]
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 4}  # 3 days of sessions, plus one
