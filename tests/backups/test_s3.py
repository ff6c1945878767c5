"""The same flows with SeaweedFS behind the portal: presigned PUT of packs,
presigned ranged GET from locate, server-side restore reading ranges."""

import os

import pytest
import requests

from portal.backups import crypto
from portal.backups.models import Pack, Snapshot
from portal.backups.services.gc import gc_collect
from tests.files.support_s3 import use_s3

pytestmark = pytest.mark.django_db


@pytest.fixture
def s3(settings, seaweed):
    return use_s3(settings, seaweed)


def test_presigned_put_stores_exactly_the_announced_bytes(s3):
    url = s3.presign_put("backups/packs/ab/test", size=10)
    assert requests.put(url, data=b"0123456789", timeout=30).status_code == 200
    with s3.open("backups/packs/ab/test") as stream:
        assert stream.read() == b"0123456789"


def test_presigned_put_refuses_a_body_of_another_size(s3):
    url = s3.presign_put("backups/packs/ab/short", size=10)
    assert requests.put(url, data=b"012345678", timeout=30).status_code in (400, 403)
    assert not s3.exists("backups/packs/ab/short")


def test_a_backup_and_restore_round_trip_through_s3(s3, enroll, signed_in, alice):
    device = enroll(alice)
    data = os.urandom(200_000)
    snapshot = device.backup({"docs": {"report.bin": data}})
    pack = Pack.objects.get()
    assert pack.indexed_at is not None and s3.size(pack.key) == pack.size
    response = signed_in(alice).get(f"/api/v1/devices/{device.id}/snapshots/{snapshot['id']}/content/docs/report.bin")
    assert b"".join(response.streaming_content) == data


def test_locate_hands_out_a_presigned_get_that_serves_ranges(s3, enroll, alice):
    device = enroll(alice)
    first, second = device.blob(b"first"), device.blob(os.urandom(1000))
    device.upload_pack([first, second])
    where = device.post("/backup/chunks/locate", {"ids": [second[0]]}).json()["chunks"][second[0]]
    end = where["offset"] + where["length"] - 1
    answer = requests.get(where["url"], headers={"Range": f"bytes={where['offset']}-{end}"}, timeout=30)
    assert answer.status_code == 206
    assert crypto.open_blob(device.keys.data_key, second[0], answer.content) == crypto.open_blob(
        device.keys.data_key, second[0], second[1])


def test_gc_sweeps_packs_on_s3(s3, enroll, alice):
    from datetime import timedelta

    from django.utils import timezone

    device = enroll(alice)
    snapshot = device.backup({"a.txt": b"a" * 100})
    key = Pack.objects.get().key
    Snapshot.objects.filter(pk=snapshot["id"]).delete()
    Pack.objects.update(created_at=timezone.now() - timedelta(hours=30), claimed_at=None)
    assert gc_collect()["swept"] == 1 and not s3.exists(key)
