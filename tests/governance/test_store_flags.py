"""S3 Object Lock legal-hold flags on held objects, best effort: the local
store and stores without Object Lock say "not supported by this store" and
the hold works all the same (the portal refuses every purge); where the store
takes the flag, release takes it off again."""

from __future__ import annotations

import io

import pytest

from portal.files.services.direct import file_put
from portal.governance import services, storeflags
from portal.governance.models import LegalHold
from portal.spaces.services import space_create
from portal.storage import get_store
from tests.adminpanel.console_support import client_for
from tests.files.support_s3 import use_s3

pytestmark = pytest.mark.django_db


def test_the_local_store_reports_flags_as_not_supported(admin, alice, put, team, django_capture_on_commit_callbacks):
    version = put("/contract.pdf")
    with django_capture_on_commit_callbacks(execute=False) as queued:
        hold = services.hold_create(actor=admin, kind="space", target_id=team.pk, reason="Case 5")
    assert len(queued) == 2 and LegalHold.objects.get(pk=hold.pk).store_flag == "pending"   # flags + the event
    assert storeflags.store_flags_apply(hold.pk) == "unsupported"
    page = client_for(admin).get("/manage/governance/").content.decode()
    assert "not supported by this store" in page
    assert get_store().exists(version.blob.key)


@pytest.mark.parametrize("object_lock", [False, True])
def test_seaweedfs_flags_held_objects_in_an_object_lock_bucket_and_says_when_it_cannot(admin, alice, settings, seaweed, object_lock):
    import uuid

    import boto3

    bucket = f"lock-{uuid.uuid4().hex[:12]}"
    if object_lock:   # a bucket made with Object Lock, as an operator would for this
        boto3.client("s3", endpoint_url=seaweed.endpoint_url, aws_access_key_id=seaweed.access_key,
                     aws_secret_access_key=seaweed.secret_key, region_name=seaweed.region).create_bucket(
            Bucket=bucket, ObjectLockEnabledForBucket=True)
    store = use_s3(settings, seaweed, bucket=bucket)
    space = space_create(actor=alice, name="Legal")
    version = file_put(actor=alice, space_id=space.pk, path="/mail.eml", fileobj=io.BytesIO(b"evidence"), size=8)
    hold = services.hold_create(actor=admin, kind="user", target_id=alice.pk, reason="Case 6")
    outcome = storeflags.store_flags_apply(hold.pk)
    assert outcome == ("flagged:1" if object_lock else "unsupported")
    if object_lock:
        status = store.client.get_object_legal_hold(Bucket=store.bucket, Key=version.blob.key)["LegalHold"]["Status"]
        assert status == "ON"
        services.hold_release(actor=admin, hold_id=hold.pk, reason="closed")
        assert storeflags.store_flags_apply(hold.pk) == "cleared:1"
    assert store.exists(version.blob.key)
