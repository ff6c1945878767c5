"""The upload contract end to end on the local backend: start, PUT parts, complete."""

import hashlib
import os
from urllib.parse import urlparse

import pytest

from portal.files.models import UploadSession
from portal.spaces.services import space_create

pytestmark = pytest.mark.django_db
MiB = 1024 * 1024


@pytest.fixture
def team(alice):
    return space_create(actor=alice, name="Team")


def put_part(client, url, data):
    response = client.generic("PUT", urlparse(url).path + "?" + urlparse(url).query, data,
                              content_type="application/octet-stream")
    assert response.status_code == 200, response.content
    return response["ETag"]


def test_a_multi_part_upload_becomes_a_file_version(api, alice, team, settings):
    settings.UPLOAD_PART_SIZE = 5 * MiB
    data = os.urandom(12 * MiB + 123)
    client = api.as_user(alice)
    started = client.post("/api/v1/uploads", {"space": team.id, "path": "/docs/report.bin", "size": len(data),
                                              "sha256": hashlib.sha256(data).hexdigest()}, format="json")
    assert started.status_code == 201, started.content
    body = started.json()
    assert body["part_count"] == 3 and len(body["parts"]) == 3
    for part in reversed(body["parts"]):
        start = (part["number"] - 1) * body["part_size"]
        put_part(client, part["url"], data[start:start + part["size"]])
    status = client.get(f"/api/v1/uploads/{body['id']}").json()
    assert status["received"] == [1, 2, 3] and status["parts"] == []
    done = client.post(f"/api/v1/uploads/{body['id']}/complete")
    assert done.status_code == 201, done.content
    meta = done.json()
    assert meta["path"] == "/docs/report.bin" and meta["size"] == len(data) and meta["version"] == 1
    again = client.post(f"/api/v1/uploads/{body['id']}/complete")
    assert again.status_code == 201 and again.json()["id"] == meta["id"]
    listing = client.get(f"/api/v1/spaces/{team.id}/tree/docs").json()
    assert [r["name"] for r in listing["results"]] == ["report.bin"]
    team.refresh_from_db()
    assert team.used_bytes == len(data)
    assert UploadSession.objects.get(pk=body["id"]).state == "completed"
