"""Links on the S3 store (a real SeaweedFS): a download is a short-lived
presigned redirect, and none is issued once the link is revoked."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
import requests

from tests.shares.conftest import row

pytestmark = pytest.mark.django_db


def test_a_download_redirects_to_a_presigned_url_of_at_most_five_minutes(share, s3_file, visitor):
    meta, data = s3_file
    link = share(meta["id"])
    answer = visitor().get(f"/s/{link['token']}/download")
    assert answer.status_code == 302
    assert answer["Referrer-Policy"] == "no-referrer" and answer["Cache-Control"] == "private, no-store"
    query = parse_qs(urlparse(answer["Location"]).query)
    assert 0 < int(query["X-Amz-Expires"][0]) <= 300
    fetched = requests.get(answer["Location"], timeout=30)
    assert fetched.status_code == 200 and fetched.content == data
    assert fetched.headers["Content-Disposition"].startswith("attachment")
    assert row(link).download_count == 1


def test_no_presigned_url_is_issued_once_the_link_is_revoked(signed_in, alice, share, s3_file, visitor):
    meta, _ = s3_file
    link = share(meta["id"])
    browser = visitor()
    assert browser.get(f"/s/{link['token']}/download").status_code == 302
    assert signed_in(alice).delete(f"/api/v1/shares/{link['id']}").status_code == 204
    answer = browser.get(f"/s/{link['token']}/download")
    assert answer.status_code == 410 and answer.context["state"] == "revoked"
    assert "Location" not in answer and b"X-Amz" not in answer.content
