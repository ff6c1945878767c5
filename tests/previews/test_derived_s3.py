"""Derived files on S3 (SeaweedFS): stored under derived/ through
django-storages, handed to the browser as a short-lived presigned URL."""

from __future__ import annotations

import pytest
import requests
from django.core.files.storage import FileSystemStorage

from portal.previews import services
from portal.previews.models import DerivedFile, DerivedState
from portal.storage import get_store
from portal.storage.derived import derived_storage
from tests.files.support_s3 import use_s3
from tests.previews.conftest import png_bytes, scanned
from tests.web.live import page_client

pytestmark = pytest.mark.django_db


def test_a_thumbnail_on_s3_is_served_by_a_presigned_redirect(settings, seaweed, alice, files):
    use_s3(settings, seaweed)
    assert not isinstance(derived_storage(), FileSystemStorage)
    node = files.node("/p.png", png_bytes((800, 600)))
    scanned(node.current_version)
    assert services.thumbnail_make(node.current_version_id) == DerivedState.READY
    derived = DerivedFile.objects.get(version=node.current_version)
    assert get_store().exists(f"derived/{derived.name}")   # the files' bucket, its own prefix
    answer = page_client(alice).get(f"/spaces/{node.space_id}/items/{node.pk}/thumbnail")
    assert answer.status_code == 302 and answer["Location"].startswith(seaweed.endpoint_url)
    fetched = requests.get(answer["Location"], timeout=10)
    assert fetched.status_code == 200 and fetched.headers["Content-Type"] == "image/webp"
    assert fetched.content[:4] == b"RIFF" and fetched.content[8:12] == b"WEBP"
    assert page_client(alice).get(f"/spaces/{node.space_id}/items/{node.pk + 999}/thumbnail").status_code == 404


def test_a_local_thumbnail_is_streamed_by_the_portal(alice, files, bob):
    node = files.node("/p.png", png_bytes((300, 300)))
    scanned(node.current_version)
    services.thumbnail_make(node.current_version_id)
    answer = page_client(alice).get(f"/spaces/{node.space_id}/items/{node.pk}/thumbnail")
    assert answer.status_code == 200 and answer["Content-Type"] == "image/webp"
    assert answer["X-Content-Type-Options"] == "nosniff"
    assert page_client(bob).get(f"/spaces/{node.space_id}/items/{node.pk}/thumbnail").status_code == 404
