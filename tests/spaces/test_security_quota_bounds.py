"""A quota past what the column holds is refused with 400 naming the field,
not a 500 (the same overflow as ``keep_versions=2**63``)."""

from __future__ import annotations

import pytest

from portal.spaces.models import Space
from portal.spaces.services import MAX_QUOTA, space_create
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("quota", [2**63, MAX_QUOTA + 1])
def test_an_absurd_quota_is_refused_when_set_or_created(api, admin, quota):
    space = space_create(actor=admin, name="Ops")
    client = api.as_user(admin)
    body = assert_error(client.patch(f"/api/v1/spaces/{space.id}/", {"quota": quota}, format="json"),
                        400, "invalid_input")
    assert "quota" in body["detail"]
    assert Space.objects.get(pk=space.pk).quota_bytes == space.quota_bytes
    assert_error(client.post("/api/v1/spaces/", {"name": "Huge", "quota": quota}, format="json"), 400,
                 "invalid_input")
    assert client.patch(f"/api/v1/spaces/{space.id}/", {"quota": MAX_QUOTA}, format="json").status_code == 200
