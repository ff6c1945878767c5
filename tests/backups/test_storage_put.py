"""The local store's signed single-object PUT (``presign_put``), as packs use it."""

import io

import pytest

from portal.core.errors import InvalidInput
from tests.backups.conftest import put_url
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db


def test_a_signed_put_stores_the_body(client, store_root):
    url = store_root.presign_put("backups/packs/aa/one", size=5)
    response = put_url(client, url, b"hello")
    assert response.status_code == 200 and response["ETag"]
    with store_root.open("backups/packs/aa/one") as stream:
        assert stream.read() == b"hello"


def test_a_signed_put_refuses_another_size_and_stores_nothing(client, store_root):
    url = store_root.presign_put("backups/packs/aa/two", size=5)
    assert_error(put_url(client, url, b"hell"), 400, "size_mismatch")
    assert not store_root.exists("backups/packs/aa/two")


def test_a_body_longer_or_shorter_than_promised_is_not_stored(store_root):
    with pytest.raises(InvalidInput) as longer:
        store_root.put_exact("backups/packs/aa/three", io.BytesIO(b"123456"), size=5)
    assert longer.value.code == "size_mismatch"
    with pytest.raises(InvalidInput) as shorter:
        store_root.put_exact("backups/packs/aa/three", io.BytesIO(b"1234"), size=5)
    assert shorter.value.code == "incomplete_body"
    assert not store_root.exists("backups/packs/aa/three")


def test_a_download_token_is_no_put_token(client, store_root):
    url = store_root.presign_get("backups/packs/aa/four", filename="x")
    token = url.rsplit("/", 1)[1]
    assert_error(client.generic("PUT", f"/storage/put/{token}", b"x", content_type="application/octet-stream"),
                 403, "link_invalid")


def test_a_put_size_must_be_sane(store_root):
    with pytest.raises(InvalidInput):
        store_root.presign_put("backups/packs/aa/five", size=-1)
